import { describe, expect, it } from 'vitest'
import {
  type AugmentSample,
  affine,
  augmentSample,
  blur,
  brightness,
  brightnessContrast,
  contrast,
  elasticTransform,
  gamma,
  gaussNoise,
  gridDistortion,
  horizontalFlip,
  hueSaturationValue,
  noise,
  oneOf,
  randomRotate90,
  rotate,
  shiftScaleRotate,
  transpose,
  verticalFlip,
} from './augment'
import { AUGMENTATIONS, AUGMENTATION_NAMES, createAugmentation, describeAugmentations } from './registry'
import { createRng } from './rng'

const W = 48
const H = 30

/** An RGB image that is its own mask: an ellipse of one colour on another (red-ish inside, blue-ish outside). */
function ellipse(): AugmentSample {
  const image = new Float32Array(W * H * 3)
  const mask = new Uint8Array(W * H)
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const inside = (x - 20) ** 2 / 150 + (y - 14) ** 2 / 60 < 1
      mask[y * W + x] = inside ? 1 : 0
      image.set(inside ? [0.9, 0.2, 0.1] : [0.1, 0.3, 0.8], (y * W + x) * 3)
    }
  return { image, mask, width: W, height: H }
}

/** Share of pixels where the augmented image's red channel disagrees with the augmented mask. */
function misalignment(out: AugmentSample): number {
  let bad = 0
  const n = out.width * out.height
  for (let i = 0; i < n; i++) if (out.image[i * 3]! > 0.5 !== (out.mask![i] === 1)) bad++
  return bad / n
}

const GEOMETRIC = [
  horizontalFlip({ p: 1 }),
  verticalFlip({ p: 1 }),
  transpose({ p: 1 }),
  randomRotate90({ p: 1 }),
  rotate({ limit: 30, p: 1 }),
  rotate({ limit: 30, border: 'constant', p: 1 }),
  shiftScaleRotate({ shiftLimit: 0.1, scaleLimit: 0.2, rotateLimit: 30, p: 1 }),
  affine({ shear: 5, scale: [0.9, 1.1], p: 1 }),
  gridDistortion({ p: 1 }),
  elasticTransform({ alpha: 4, sigma: 6, p: 1 }),
]

describe('geometric augmentations move image and mask together on C channels', () => {
  it.each(GEOMETRIC.map((a) => [a.name, a] as const))('%s keeps RGB image and mask aligned and the mask binary', (_, aug) => {
    for (let seed = 0; seed < 4; seed++) {
      const out = augmentSample(aug, ellipse(), seed)
      expect(out.image.length).toBe(out.width * out.height * 3)
      expect(out.mask!.every((v) => v === 0 || v === 1)).toBe(true)
      expect(misalignment(out)).toBeLessThan(0.02)
    }
  })

  it('flips, transposes and quarter turns are exact permutations', () => {
    const s = ellipse()
    const px = (o: AugmentSample, x: number, y: number) => Array.from(o.image.subarray((y * o.width + x) * 3, (y * o.width + x) * 3 + 3))
    const h = augmentSample(horizontalFlip({ p: 1 }), s, 0)
    const v = augmentSample(verticalFlip({ p: 1 }), s, 0)
    const t = augmentSample(transpose({ p: 1 }), s, 0)
    expect([t.width, t.height]).toEqual([H, W])
    for (const [x, y] of [[0, 0], [5, 7], [47, 29], [20, 14]] as const) {
      expect(px(h, W - 1 - x, y)).toEqual(px(s, x, y))
      expect(px(v, x, H - 1 - y)).toEqual(px(s, x, y))
      expect(px(t, y, x)).toEqual(px(s, x, y))
      expect(t.mask![x * H + y]).toBe(s.mask![y * W + x])
    }
    // Four quarter turns of any kind bring the image back; 90° swaps width and height.
    const turns = new Set<string>()
    for (let seed = 0; seed < 40; seed++) {
      const r = augmentSample(randomRotate90({ p: 1 }), s, seed)
      turns.add(`${r.width}x${r.height}`)
      expect(r.mask!.reduce((a, b) => a + b, 0)).toBe(s.mask!.reduce((a, b) => a + b, 0))
    }
    expect(turns).toEqual(new Set([`${W}x${H}`, `${H}x${W}`]))
  })

  it('an identity affine or shift-scale-rotate returns the input', () => {
    const s = ellipse()
    expect(augmentSample(shiftScaleRotate({ shiftLimit: 0, scaleLimit: 0, rotateLimit: 0, p: 1 }), s, 0).mask).toEqual(s.mask)
    const a = augmentSample(affine({ p: 1 }), s, 0)
    expect(a.mask).toEqual(s.mask)
    for (let i = 0; i < s.image.length; i++) expect(a.image[i]).toBeCloseTo(s.image[i]!, 6)
  })

  it('shear moves rows sideways in proportion to their distance from the centre', () => {
    const s = ellipse()
    const out = augmentSample(affine({ shear: [20, 20], p: 1 }), s, 0)
    // The mask's top rows shift one way, the bottom rows the other.
    const centreX = (o: AugmentSample, y: number) => {
      let sum = 0
      let n = 0
      for (let x = 0; x < W; x++) if (o.mask![y * W + x]) (sum += x), n++
      return sum / n
    }
    const top = centreX(out, 9) - centreX(s, 9)
    const bottom = centreX(out, 19) - centreX(s, 19)
    expect(Math.sign(top)).toBe(-Math.sign(bottom))
    expect(Math.abs(top - bottom)).toBeGreaterThan(2)
  })
})

describe('pixel augmentations change the image only', () => {
  const PIXEL = [
    brightness({ limit: 0.2, p: 1 }),
    contrast({ limit: 0.4, p: 1 }),
    brightnessContrast({ brightnessLimit: 0.1, contrastLimit: 0.1, p: 1 }),
    gamma({ gammaLimit: [50, 70], p: 1 }),
    blur({ blurLimit: 2, p: 1 }),
    blur({ p: 1 }),
    noise({ p: 1 }),
    gaussNoise({ p: 1 }),
    hueSaturationValue({ p: 1 }),
  ]
  it.each(PIXEL.map((a) => [a.name, a] as const))('%s keeps the mask, changes the image, stays in [0, 1]', (_, aug) => {
    const s = ellipse()
    const out = augmentSample(aug, s, 5)
    expect(out.mask).toBe(s.mask)
    expect(out.image).not.toEqual(s.image)
    expect(out.image.every((v) => v >= 0 && v <= 1)).toBe(true)
  })

  it('blur_limit 2 is a 2 × 2 box (the whale-fluke recipe)', () => {
    const image = new Float32Array([0, 0, 0, 1, 0, 0, 0, 0, 0])
    const out = augmentSample(blur({ blurLimit: 2, p: 1 }), { image, width: 3, height: 3 }, 0)
    // OpenCV's anchor: the window covers the pixel and the one before it, edges mirrored (REFLECT_101: index -1 reads 1).
    // Rows: row 1 becomes [0.5, 0.5, 0]; columns then spread it over rows 0…2 at 0.25 each.
    expect(Array.from(out.image).map((v) => v * 4)).toEqual([1, 1, 0, 1, 1, 0, 1, 1, 0])
  })

  it('hue shifts colour, not brightness order, and refuses grey images', () => {
    const s = ellipse()
    const out = augmentSample(hueSaturationValue({ hueShiftLimit: [120, 120], satShiftLimit: 0, valShiftLimit: 0, p: 1 }), s, 0)
    // Red (0.9, 0.2, 0.1) turned by 120° becomes green-ish.
    const i = (14 * W + 20) * 3
    expect(out.image[i + 1]).toBeCloseTo(0.9, 5)
    expect(() => augmentSample(hueSaturationValue({ p: 1 }), { image: new Float32Array(4), width: 2, height: 2 }, 0)).toThrow(/needs RGB images/)
  })
})

describe('combinators and seeds', () => {
  it('the same seed gives the same result; other seeds differ', () => {
    const aug = shiftScaleRotate({ p: 1 })
    const a = augmentSample(aug, ellipse(), 11)
    expect(augmentSample(aug, ellipse(), 11).image).toEqual(a.image)
    expect(augmentSample(aug, ellipse(), 12).image).not.toEqual(a.image)
  })

  it('p is the probability of applying', () => {
    const aug = brightness({ p: 0.3 })
    const s = ellipse()
    const rng = createRng(3)
    let applied = 0
    for (let i = 0; i < 2000; i++) if (aug.apply(s, rng) !== s) applied++
    expect(applied / 2000).toBeGreaterThan(0.26)
    expect(applied / 2000).toBeLessThan(0.34)
  })

  it('oneOf applies exactly one transform, picked by weight', () => {
    const s = ellipse()
    const rng = createRng(9)
    const counts = { h: 0, v: 0 }
    const h = horizontalFlip({ p: 0.75 })
    const v = verticalFlip({ p: 0.25 })
    const flipH = augmentSample(h, s, 0).image
    for (let i = 0; i < 1000; i++) {
      const out = oneOf([h, v], { p: 1 }).apply(s, rng)
      if (out.image.every((x, k) => x === flipH[k])) counts.h++
      else counts.v++
    }
    expect(counts.h / 1000).toBeGreaterThan(0.7)
    expect(counts.h / 1000).toBeLessThan(0.8)
  })
})

describe('registry by name', () => {
  it('builds the whale-fluke recipe from albumentations-style configs', () => {
    const aug = createAugmentation([
      { name: 'blur', blur_limit: 2, p: 0.5 },
      { name: 'affine', shear: 5, p: 0.5 },
      { name: 'horizontal_flip', p: 0.5 },
      { name: 'rotate', limit: 5, p: 0.3 },
      { name: 'random_brightness_contrast', brightness_limit: 0.1, contrast_limit: 0.1, p: 0.2 },
    ])
    expect(aug.name).toBe('compose(blur, affine, horizontal_flip, rotate, random_brightness_contrast)')
    for (let seed = 0; seed < 8; seed++) expect(misalignment(augmentSample(aug, ellipse(), seed))).toBeLessThan(0.03)
  })

  it('accepts albumentations class names and camelCase, and builds what the function builds', () => {
    const byName = createAugmentation({ name: 'ShiftScaleRotate', shiftLimit: 0.1, rotate_limit: 10, p: 1 } as never)
    const direct = shiftScaleRotate({ shiftLimit: 0.1, rotateLimit: 10, p: 1 })
    expect(augmentSample(byName, ellipse(), 4).image).toEqual(augmentSample(direct, ellipse(), 4).image)
    const nested = createAugmentation({ name: 'one_of', p: 1, transforms: [{ name: 'vertical_flip', p: 1 }] })
    expect(augmentSample(nested, ellipse(), 0).image).toEqual(augmentSample(verticalFlip({ p: 1 }), ellipse(), 0).image)
  })

  it('an unknown name or parameter throws and lists the valid ones', () => {
    expect(() => createAugmentation({ name: 'rotat', limit: 5 } as never)).toThrow(/unknown augmentation "rotat"; valid names: horizontal_flip, .*rotate.*one_of, compose/)
    expect(() => createAugmentation({ name: 'rotate', limt: 5 } as never)).toThrow(/rotate has no parameter "limt"; it takes: limit, border_mode, p/)
    expect(() => createAugmentation({ name: 'rotate', limit: 'five' } as never)).toThrow(/limit must be a number or \[lo, hi\]/)
    expect(() => createAugmentation({ name: 'rotate', border_mode: 'wrap' } as never)).toThrow(/border_mode must be one of reflect, constant/)
    expect(() => createAugmentation({ name: 'rotate', p: 2 })).toThrow(/p must be a number in \[0, 1\]/)
    try {
      createAugmentation({ name: 'nope' } as never)
    } catch (e) {
      expect((e as { code: string }).code).toBe('UNKNOWN_AUGMENTATION')
    }
  })

  it('describes every name with its parameters and defaults, for help text', () => {
    const help = describeAugmentations().split('\n')
    expect(help.length).toBe(AUGMENTATION_NAMES.length)
    expect(help).toContain('rotate(limit=90, border_mode=reflect, p) — rotate by an angle from ±limit degrees')
    expect(help).toContain('blur(blur_limit=[3,7], p) — box blur with a kernel size from blur_limit (2 allowed)')
  })

  it('declares every name once, each with a doc and typed defaults that build', () => {
    expect(AUGMENTATION_NAMES.length).toBe(new Set(AUGMENTATION_NAMES).size)
    for (const [name, spec] of Object.entries(AUGMENTATIONS)) {
      expect(spec.doc.length).toBeGreaterThan(5)
      expect(createAugmentation({ name } as never).name).toBe(name === 'noise' ? 'noise' : name)
    }
  })
})
