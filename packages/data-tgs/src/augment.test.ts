// The augmentations TGS code uses (from @unet/data, re-exported by this package) on real-shaped 101 × 101 grey samples.
import { describe, expect, it } from 'vitest'
import {
  type AugmentSample,
  augmentSample,
  blur,
  brightness,
  compose,
  contrast,
  gamma,
  horizontalFlip,
  noise,
  oneOf,
  shiftScaleRotate,
  createRng,
} from '@unet/data'
import { generateSyntheticTgs } from './synthetic'

const { train } = generateSyntheticTgs({ trainCount: 30, testCount: 0, seed: 2 })
const withSalt = train.filter((s) => s.coverage > 0.05 && s.coverage < 0.95)

/** An image that is its own mask (0.2 outside, 0.8 inside): alignment is checkable pixel by pixel. */
function maskImage(s: (typeof train)[number]): AugmentSample {
  return { image: Float32Array.from(s.mask, (m) => (m ? 0.8 : 0.2)), mask: s.mask, height: 101, width: 101 }
}

/** Share of pixels where the augmented image disagrees with the augmented mask. */
function misalignment(out: AugmentSample): number {
  let bad = 0
  for (let i = 0; i < out.image.length; i++) if (out.image[i]! > 0.5 !== (out.mask![i] === 1)) bad++
  return bad / out.image.length
}

describe('geometric augmentations move image and mask together', () => {
  it('horizontalFlip mirrors both exactly', () => {
    const s = withSalt[0]!
    const out = augmentSample(horizontalFlip({ p: 1 }), { image: s.image, mask: s.mask, height: 101, width: 101 }, 0)
    for (let y = 0; y < 101; y += 7) {
      for (let x = 0; x < 101; x++) {
        expect(out.image[y * 101 + x]).toBe(s.image[y * 101 + 100 - x])
        expect(out.mask![y * 101 + x]).toBe(s.mask[y * 101 + 100 - x])
      }
    }
    expect(misalignment(augmentSample(horizontalFlip({ p: 1 }), maskImage(s), 0))).toBe(0)
  })

  it('shiftScaleRotate keeps image and mask aligned (both borders) and changes them', () => {
    for (const border of ['reflect', 'constant'] as const) {
      const aug = shiftScaleRotate({ shiftLimit: 0.1, scaleLimit: 0.2, rotateLimit: 30, border, p: 1 })
      withSalt.forEach((s, k) => {
        const input = maskImage(s)
        const out = augmentSample(aug, input, k)
        // Only pixels on the interpolated boundary may disagree.
        expect(misalignment(out)).toBeLessThan(0.01)
        expect(out.mask).not.toEqual(s.mask)
      })
    }
  })

  it('fills uncovered pixels with zeros (constant) or the mirror image (reflect)', () => {
    const s = withSalt[0]!
    const shift = (border: 'reflect' | 'constant') =>
      augmentSample(shiftScaleRotate({ shiftLimit: [0.2, 0.2], scaleLimit: 0, rotateLimit: 0, border, p: 1 }), { image: s.image, mask: s.mask, height: 101, width: 101 }, 0)
    // Shifted right and down by 20.2 pixels: output (y, x) comes from source (y - 20.2, x - 20.2).
    const constant = shift('constant')
    expect(constant.image[5 * 101 + 50]).toBe(0)
    expect(constant.mask![50 * 101 + 5]).toBe(0)
    const reflect = shift('reflect')
    // Output (5, 50) samples source (-15.2, 29.8): row -15.2 mirrors to 15.2, so rows 15 and 16 weigh 0.8 and 0.2,
    // columns 29 and 30 weigh 0.2 and 0.8.
    const row = (r: number): number => 0.2 * s.image[r * 101 + 29]! + 0.8 * s.image[r * 101 + 30]!
    const expected = 0.8 * row(15) + 0.2 * row(16)
    expect(reflect.image[5 * 101 + 50]).toBeCloseTo(expected, 4)
  })

  it('an identity shiftScaleRotate returns the input', () => {
    const s = withSalt[0]!
    const out = augmentSample(shiftScaleRotate({ shiftLimit: 0, scaleLimit: 0, rotateLimit: 0, p: 1 }), maskImage(s), 0)
    expect(out.mask).toEqual(s.mask)
  })
})

describe('pixel augmentations change the image only', () => {
  const s = withSalt[1]!
  const input = { image: s.image, mask: s.mask, height: 101, width: 101 }
  const copy = Float32Array.from(s.image)
  for (const aug of [brightness({ p: 1 }), contrast({ p: 1 }), gamma({ p: 1 }), blur({ p: 1 }), noise({ p: 1 })]) {
    it(`${aug.name} keeps the mask, changes the image, stays in [0, 1]`, () => {
      const out = augmentSample(aug, input, 3)
      expect(out.mask).toBe(s.mask)
      expect(out.image).not.toEqual(s.image)
      expect(Math.min(...out.image)).toBeGreaterThanOrEqual(0)
      expect(Math.max(...out.image)).toBeLessThanOrEqual(1)
      expect(Buffer.compare(Buffer.from(s.image.buffer), Buffer.from(copy.buffer))).toBe(0) // input untouched
    })
  }

  it('brightness adds one offset within its limit', () => {
    const flat = { image: new Float32Array(16).fill(0.5), height: 4, width: 4 }
    const out = augmentSample(brightness({ limit: 0.1, p: 1 }), flat, 9)
    expect(new Set(out.image).size).toBe(1)
    expect(Math.abs(out.image[0]! - 0.5)).toBeLessThanOrEqual(0.1 + 1e-6)
  })
})

describe('seeding and composition', () => {
  const s = withSalt[2]!
  const input = { image: s.image, mask: s.mask, height: 101, width: 101 }
  const pipeline = compose([horizontalFlip(), shiftScaleRotate(), oneOf([brightness(), contrast(), gamma()], { p: 0.9 }), noise({ p: 0.3 })])

  it('the same seed gives the same result; other seeds differ', () => {
    const a = augmentSample(pipeline, input, 42)
    expect(augmentSample(pipeline, input, 42)).toEqual(a)
    const others = [1, 2, 3, 4, 5].map((seed) => augmentSample(pipeline, input, seed).image)
    expect(others.some((o) => o.some((v, i) => v !== a.image[i]))).toBe(true)
  })

  it('p is the probability of applying', () => {
    const random = createRng(1)
    const flip = horizontalFlip({ p: 0.3 })
    let applied = 0
    for (let i = 0; i < 2000; i++) if (flip.apply(input, random) !== input) applied++
    expect(applied / 2000).toBeGreaterThan(0.25)
    expect(applied / 2000).toBeLessThan(0.35)
    expect(compose([horizontalFlip({ p: 1 })], { p: 0 }).apply(input, random)).toBe(input)
  })

  it('oneOf applies exactly one transform, picked by weight', () => {
    const calls = { a: 0, b: 0 }
    const counting = (name: 'a' | 'b', p: number) => ({
      name,
      p,
      transform: (x: typeof input) => {
        calls[name]++
        return x
      },
      apply: () => input,
    })
    const pick = oneOf([counting('a', 0.75), counting('b', 0.25)], { p: 1 })
    const random = createRng(5)
    for (let i = 0; i < 2000; i++) pick.apply(input, random)
    expect(calls.a + calls.b).toBe(2000)
    expect(calls.a / 2000).toBeGreaterThan(0.7)
    expect(calls.a / 2000).toBeLessThan(0.8)
  })

  it('rejects bad options', () => {
    expect(() => horizontalFlip({ p: 2 })).toThrow(/p must be in \[0, 1\]/)
    expect(() => blur({ blurLimit: [0, 3] })).toThrow(/blur_limit must be integers ≥ 1/)
    expect(() => oneOf([])).toThrow(/at least one/)
  })
})
