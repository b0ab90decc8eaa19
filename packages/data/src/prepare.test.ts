import { describe, expect, it } from 'vitest'
import { createRng } from './rng'
import { checkModelSize, matchChannels, placement, prepareImage, prepareMask, restoreMask, restoreProbabilities, type PrepareSpec } from './prepare'
import { resample } from './resample'

function randomImage(width: number, height: number, channels: number, seed: number): Float32Array {
  const rng = createRng(seed)
  return Float32Array.from({ length: width * height * channels }, () => rng())
}

/** A smooth RGB image: each channel a different gradient. */
function smooth(width: number, height: number): Float32Array {
  const out = new Float32Array(width * height * 3)
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3
      out[o] = x / (width - 1)
      out[o + 1] = y / (height - 1)
      out[o + 2] = 0.5 + 0.4 * Math.sin((x + y) / 9)
    }
  return out
}

describe('prepareImage and restoreProbabilities', () => {
  it('pad is inverted exactly on rectangular and odd sizes, for every channel count', () => {
    for (const [w, h, c] of [[101, 101, 1], [37, 23, 3], [61, 9, 4], [1, 1, 3]] as const) {
      for (const pad of ['reflect', 'constant'] as const) {
        const spec: PrepareSpec = { width: 64, height: 32, mode: 'pad', pad }
        if (w > 64 || h > 32) continue
        const image = randomImage(w, h, c, w * h)
        const x = prepareImage(image, { width: w, height: h, channels: c }, spec)
        expect(x.length).toBe(64 * 32 * c)
        // Channel by channel, the crop gives the image back bit for bit.
        for (let k = 0; k < c; k++) {
          const plane = Float32Array.from({ length: 64 * 32 }, (_, i) => x[i * c + k]!)
          const back = restoreProbabilities(plane, { width: w, height: h }, spec)
          expect(Array.from(back)).toEqual(Array.from({ length: w * h }, (_, i) => image[i * c + k]!))
        }
      }
    }
  })

  it('reflect-pads 13 before and 14 after for 101 → 128, mirroring without repeating the edge; constant pads 0', () => {
    const image = randomImage(101, 101, 1, 3)
    const x = prepareImage(image, { width: 101, height: 101, channels: 1 }, { width: 128, height: 128, mode: 'pad' })
    expect(x[13 * 128 + 13]).toBe(image[0])
    expect(x[13 * 128 + 12]).toBe(image[1]) // mirrored column -1 → 1
    expect(x[12 * 128 + 13]).toBe(image[101])
    expect(x[(13 + 100) * 128 + 13 + 100]).toBe(image[101 * 101 - 1])
    const c = prepareImage(image, { width: 101, height: 101, channels: 1 }, { width: 128, height: 128, mode: 'pad', pad: 'constant' })
    expect(c[0]).toBe(0)
    expect(c[13 * 128 + 12]).toBe(0)
    expect(c[13 * 128 + 13]).toBe(image[0])
  })

  it('letterbox keeps the aspect ratio, centres the image and is inverted exactly when no resize is needed', () => {
    expect(placement({ width: 1918, height: 1280 }, { width: 512, height: 512, mode: 'letterbox' })).toEqual({ width: 512, height: 342, left: 0, top: 85 })
    expect(placement({ width: 300, height: 600 }, { width: 384, height: 192, mode: 'letterbox' })).toEqual({ width: 96, height: 192, left: 144, top: 0 })
    // Same aspect as the model: a pure resize; an exact fit: nothing at all.
    const spec: PrepareSpec = { width: 48, height: 16, mode: 'letterbox', pad: 'constant' }
    const image = randomImage(48, 16, 3, 9)
    expect(Array.from(prepareImage(image, { width: 48, height: 16, channels: 3 }, spec))).toEqual(Array.from(image))
    const odd = randomImage(23, 16, 1, 5)
    const x = prepareImage(odd, { width: 23, height: 16, channels: 1 }, spec)
    // 23×16 scaled by min(48/23, 16/16) = 1: no resize, padded left and right.
    expect(placement({ width: 23, height: 16 }, spec)).toEqual({ width: 23, height: 16, left: 12, top: 0 })
    expect(Array.from(restoreProbabilities(x, { width: 23, height: 16 }, spec))).toEqual(Array.from(odd))
  })

  it('resize and letterbox restore to the original size with the same geometry (a smooth image comes back within 2.5 %)', () => {
    for (const mode of ['resize', 'letterbox'] as const) {
      for (const interpolation of ['bilinear', 'bicubic', 'area'] as const) {
        const [w, h] = [97, 45]
        const image = smooth(w, h)
        const spec: PrepareSpec = { width: 64, height: 96, mode, interpolation }
        const x = prepareImage(image, { width: w, height: h, channels: 3 }, spec)
        expect(x.length).toBe(64 * 96 * 3)
        for (let k = 0; k < 3; k++) {
          const plane = Float32Array.from({ length: 64 * 96 }, (_, i) => x[i * 3 + k]!)
          const back = restoreProbabilities(plane, { width: w, height: h }, spec)
          expect(back.length).toBe(w * h)
          let worst = 0
          for (let i = 0; i < w * h; i++) worst = Math.max(worst, Math.abs(back[i]! - image[i * 3 + k]!))
          expect(worst, `${mode} ${interpolation} channel ${k}`).toBeLessThan(0.025 + (mode === 'letterbox' ? 0.025 : 0))
        }
      }
    }
  })

  it('masks stay 0/1, follow the image geometry, and a thresholded round trip keeps almost every pixel', () => {
    const [w, h] = [75, 41]
    const mask = new Uint8Array(w * h)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) mask[y * w + x] = (x - 30) ** 2 / 400 + (y - 20) ** 2 / 150 < 1 ? 1 : 0
    for (const mode of ['resize', 'letterbox', 'pad'] as const) {
      const spec: PrepareSpec = { width: 96, height: 64, mode }
      for (const interpolation of ['threshold', 'nearest'] as const) {
        const y = prepareMask(mask, { width: w, height: h }, spec, { interpolation })
        expect(y.length).toBe(96 * 64)
        expect(y.every((v) => v === 0 || v === 1)).toBe(true)
        const back = restoreMask(Float32Array.from(y), { width: w, height: h }, spec)
        let differ = 0
        for (let i = 0; i < mask.length; i++) if (back[i] !== mask[i]) differ++
        if (mode === 'pad') expect(differ).toBe(0)
        else expect(differ / mask.length).toBeLessThan(0.02)
      }
    }
  })

  it('restores several classes per pixel', () => {
    const spec: PrepareSpec = { width: 8, height: 8, mode: 'pad' }
    const probs = Float32Array.from({ length: 8 * 8 * 2 }, (_, i) => i)
    const back = restoreProbabilities(probs, { width: 3, height: 5 }, spec)
    expect(back.length).toBe(3 * 5 * 2)
    const { left, top } = placement({ width: 3, height: 5 }, spec)
    expect(back[0]).toBe(probs[(top * 8 + left) * 2])
    expect(back[1]).toBe(probs[(top * 8 + left) * 2 + 1])
  })

  it('refuses what it cannot do, saying what to do', () => {
    const image = new Float32Array(200 * 100)
    expect(() => prepareImage(image, { width: 200, height: 100, channels: 1 }, { width: 128, height: 128, mode: 'pad' })).toThrow(/use mode 'letterbox'/)
    expect(() => prepareImage(image, { width: 100, height: 100, channels: 1 }, { width: 128, height: 128, mode: 'pad' })).toThrow(/expected 100×100×1/)
    expect(() => prepareImage(image, { width: 200, height: 100, channels: 1 }, { width: 128, height: 128, mode: 'squash' as 'pad' })).toThrow(/mode must be one of/)
    expect(() => checkModelSize({ width: 384, height: 192 }, 5)).not.toThrow()
    expect(() => checkModelSize({ width: 101, height: 128 }, 5)).toThrow(/width 101 is not a multiple of 2\^5 = 32.*use 96 or 128/)
  })
})

describe('resample', () => {
  it('bilinear uses half-pixel centres; area averages; constants stay constant', () => {
    expect(Array.from(resample([0, 1], { width: 2, height: 1, channels: 1 }, { width: 4, height: 1 }))).toEqual([0, 0.25, 0.75, 1])
    expect(Array.from(resample([1, 3, 5, 7], { width: 4, height: 1, channels: 1 }, { width: 2, height: 1 }, 'area'))).toEqual([2, 6])
    const grey = new Float32Array(33 * 17).fill(0.3)
    for (const m of ['bilinear', 'bicubic', 'area', 'nearest'] as const) {
      const out = resample(grey, { width: 33, height: 17, channels: 1 }, { width: 20, height: 50 }, m)
      for (const v of out) expect(v).toBeCloseTo(0.3, 5)
    }
  })

  it('keeps channels apart (RGB stays RGB)', () => {
    const rgb = new Float32Array(10 * 10 * 3)
    for (let i = 0; i < 100; i++) rgb.set([1, 0, 0.5], i * 3)
    const out = resample(rgb, { width: 10, height: 10, channels: 3 }, { width: 7, height: 13 }, 'bicubic')
    for (let i = 0; i < 7 * 13; i++) {
      expect(out[i * 3]).toBeCloseTo(1, 5)
      expect(out[i * 3 + 1]).toBeCloseTo(0, 5)
      expect(out[i * 3 + 2]).toBeCloseTo(0.5, 5)
    }
  })
})

describe('matchChannels', () => {
  it('repeats grey for an RGB model, keeps equal counts, refuses RGB for a grey model', () => {
    const grey = new Float32Array([0.1, 0.7])
    expect(Array.from(matchChannels(grey, { width: 2, height: 1, channels: 1 }, 3))).toEqual([0.1, 0.1, 0.1, 0.7, 0.7, 0.7].map((v) => Math.fround(v)))
    const rgb = new Float32Array(6)
    expect(matchChannels(rgb, { width: 2, height: 1, channels: 3 }, 3)).toBe(rgb)
    expect(() => matchChannels(rgb, { width: 2, height: 1, channels: 3 }, 1)).toThrow(/model takes 1-channel images but this image has 3 channels/)
  })
})
