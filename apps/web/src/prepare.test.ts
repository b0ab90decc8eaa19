import { describe, expect, it } from 'vitest'
import { placement, prepareImage, restoreProbabilities, type ImagePixels } from './prepare'

function ramp(width: number, height: number, channels: number): ImagePixels {
  return { data: Float32Array.from({ length: width * height * channels }, (_, i) => (i % 97) / 97), width, height, channels }
}

// the page's geometry is @unet/data's; these pin what the page relies on (and the channel rule it adds)
describe('prepareImage and restoreProbabilities', () => {
  it('pad: reflect-pads centred (13 before, 14 after for 101 → 128) and restore crops it back exactly', () => {
    const image = ramp(101, 101, 1)
    const spec = { width: 128, height: 128, mode: 'pad' as const, pad: 'reflect' as const }
    const x = prepareImage(image, { width: 128, height: 128, channels: 1 }, spec)
    expect(x.length).toBe(128 * 128)
    expect(x[13 * 128 + 13]).toBe(image.data[0])
    // reflection without repeating the edge: column 12 mirrors column 1 of the image
    expect(x[13 * 128 + 12]).toBe(image.data[1])
    expect(restoreProbabilities(x, image, spec)).toEqual(image.data)
  })

  it('constant padding is 0 and letterbox keeps the aspect ratio', () => {
    expect(placement({ width: 1918, height: 1280 }, { width: 96, height: 64, mode: 'letterbox' })).toMatchObject({ width: 96, height: 64 })
    expect(placement({ width: 40, height: 75 }, { width: 64, height: 48, mode: 'letterbox' })).toEqual({ width: 26, height: 48, left: 19, top: 0 })
    const image = { data: new Float32Array(40 * 75).fill(1), width: 40, height: 75, channels: 1 }
    const spec = { width: 64, height: 48, mode: 'letterbox' as const, pad: 'constant' as const }
    const x = prepareImage(image, { width: 64, height: 48, channels: 1 }, spec)
    expect(x[0]).toBe(0) // left border
    expect(x[24 * 64 + 32]).toBeCloseTo(1, 6) // centre
    expect(x.filter((v) => v > 0.5).length).toBe(26 * 48)
    // a map that is 1 inside the letterbox and 0 outside comes back as all ones
    expect(restoreProbabilities(x, image, spec).every((v) => Math.abs(v - 1) < 1e-6)).toBe(true)
  })

  it('resize: bilinear with half-pixel centres, and a constant image stays constant both ways', () => {
    const spec = { width: 4, height: 1, mode: 'resize' as const }
    expect(Array.from(prepareImage({ data: Float32Array.from([0, 1]), width: 2, height: 1, channels: 1 }, { width: 4, height: 1, channels: 1 }, spec))).toEqual([0, 0.25, 0.75, 1])
    const flat = { data: new Float32Array(90 * 57 * 3).fill(0.25), width: 90, height: 57, channels: 3 }
    const x = prepareImage(flat, { width: 64, height: 48, channels: 3 }, { width: 64, height: 48, mode: 'resize' })
    expect(x.every((v) => v === 0.25)).toBe(true)
    const back = restoreProbabilities(new Float32Array(64 * 48).fill(0.7), flat, { width: 64, height: 48, mode: 'resize' })
    expect(back.length).toBe(90 * 57)
    expect(back.every((v) => Math.abs(v - 0.7) < 1e-6)).toBe(true)
  })

  it('grey into an RGB model repeats the channel; RGB into a grey model and oversized pad are refused', () => {
    const grey = ramp(8, 8, 1)
    const rgb = prepareImage(grey, { width: 8, height: 8, channels: 3 }, { width: 8, height: 8, mode: 'resize' })
    expect([rgb[30], rgb[31], rgb[32]]).toEqual([grey.data[10], grey.data[10], grey.data[10]])
    expect(() => prepareImage(ramp(8, 8, 3), { width: 8, height: 8, channels: 1 }, { width: 8, height: 8, mode: 'resize' })).toThrow(/grey/)
    expect(() => prepareImage(ramp(200, 8, 1), { width: 128, height: 128, channels: 1 }, { width: 128, height: 128, mode: 'pad' })).toThrow(/cannot fit a 200×8/)
  })
})
