import { describe, expect, it } from 'vitest'
import { fromModelSize, resizeBilinear, toModelSize } from './resize'
import { generateSyntheticTgs } from './synthetic'

const SHAPE = { height: 101, width: 101 }
const { train } = generateSyntheticTgs({ trainCount: 40, testCount: 0, seed: 11 })

function iou(a: Uint8Array, b: Uint8Array): number {
  let inter = 0
  let union = 0
  for (let i = 0; i < a.length; i++) {
    inter += a[i]! & b[i]!
    union += a[i]! | b[i]!
  }
  return union === 0 ? 1 : inter / union
}

describe('pad mode', () => {
  it('reflect-pads 13 before and 14 after, mirroring without repeating the edge', () => {
    const image = Float32Array.from({ length: 101 * 101 }, (_, i) => i)
    const out = toModelSize(image, SHAPE, { size: 128, mode: 'pad' })
    // Model pixel (13, 13) is source (0, 0); (12, 13) mirrors source row 1; (0, 0) is source (13, 13).
    expect(out[13 * 128 + 13]).toBe(0)
    expect(out[12 * 128 + 13]).toBe(101)
    expect(out[0]).toBe(13 * 101 + 13)
    // The last model row, 127, is 14 past source row 100 + 13: mirrors to source row 100 - 14 = 86.
    expect(out[127 * 128 + 13]).toBe(86 * 101)
  })

  it('is inverted exactly by cropping, for images and masks', () => {
    for (const s of train.slice(0, 10)) {
      const back = fromModelSize(toModelSize(s.image, SHAPE, { mode: 'pad' }), SHAPE, { mode: 'pad' })
      expect(Buffer.from(back.buffer).equals(Buffer.from(s.image.buffer))).toBe(true)
      const mask = toModelSize(s.mask, SHAPE, { mode: 'pad', kind: 'mask' })
      expect(mask).toBeInstanceOf(Uint8Array)
      expect(Buffer.from(fromModelSize(mask, SHAPE, { mode: 'pad', kind: 'mask' })).equals(Buffer.from(s.mask))).toBe(true)
    }
  })

  it('refuses a size smaller than the image', () => {
    expect(() => toModelSize(train[0]!.image, SHAPE, { size: 64, mode: 'pad' })).toThrow(/cannot fit a 101×101 image into 64×64/)
  })
})

describe('resize mode', () => {
  it('interpolates bilinearly with half-pixel centres', () => {
    // 1 × 2 → 1 × 4: [0, 1] becomes [0, 0.25, 0.75, 1] (edges clamp).
    expect(Array.from(resizeBilinear([0, 1], { height: 1, width: 2 }, { height: 1, width: 4 }))).toEqual([0, 0.25, 0.75, 1])
  })

  it('keeps a constant image constant and masks binary', () => {
    const flat = new Float32Array(101 * 101).fill(0.3)
    for (const v of toModelSize(flat, SHAPE)) expect(v).toBeCloseTo(0.3, 6)
    const m = toModelSize(train.find((s) => s.coverage > 0.3)!.mask, SHAPE, { kind: 'mask' })
    expect(new Set(m)).toEqual(new Set([0, 1]))
  })

  it('101 → 128 → 101 returns masks with IoU ≥ 0.97 and images within a small error', () => {
    for (const s of train) {
      const mask = fromModelSize(toModelSize(s.mask, SHAPE, { kind: 'mask' }), SHAPE, { kind: 'mask' })
      expect(iou(mask, s.mask)).toBeGreaterThanOrEqual(0.97)
      const back = fromModelSize(toModelSize(s.image, SHAPE), SHAPE)
      let err = 0
      for (let i = 0; i < back.length; i++) err += Math.abs(back[i]! - s.image[i]!)
      // Bilinear up then down blurs a little; the mean error stays a fraction of one grey step in ten.
      expect(err / back.length).toBeLessThan(0.03)
    }
  })

  it('turns model-size probabilities into a 101 × 101 probability map or mask', () => {
    const p = new Float32Array(128 * 128)
    for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) p[y * 128 + x] = x < 64 ? 0.9 : 0.1
    const prob = fromModelSize(p, SHAPE)
    const mask = fromModelSize(p, SHAPE, { kind: 'mask' })
    expect(prob.length).toBe(101 * 101)
    expect(prob[0]).toBeCloseTo(0.9)
    expect(mask[50 * 101 + 10]).toBe(1)
    expect(mask[50 * 101 + 90]).toBe(0)
  })

  it('checks lengths', () => {
    expect(() => toModelSize(new Float32Array(10), SHAPE)).toThrow(/expected 101×101 = 10201 pixels, got 10/)
    expect(() => fromModelSize(new Float32Array(10), SHAPE)).toThrow(/expected 128×128 = 16384/)
  })
})
