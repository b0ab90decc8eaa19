import { checkOption } from './errors'
import { type Random, gaussian, seededRandom } from './random'

/** What augmentations work on: an image and (optionally) its mask, row-major, one channel. */
export interface AugmentSample {
  image: Float32Array
  mask?: Uint8Array
  height: number
  width: number
}

/**
 * One augmentation. `apply` runs it with probability `p` (like albumentations'
 * `p`); `transform` always runs it. Geometric transforms move image and mask
 * together; pixel transforms change the image only. Inputs are never modified.
 */
export interface Augmentation {
  readonly name: string
  /** Probability that `apply` transforms the sample. */
  readonly p: number
  apply(sample: AugmentSample, random: Random): AugmentSample
  transform(sample: AugmentSample, random: Random): AugmentSample
}

function make(name: string, p: number, transform: Augmentation['transform']): Augmentation {
  checkOption(p >= 0 && p <= 1, `${name}: p must be in [0, 1], got ${p}`)
  return {
    name,
    p,
    transform,
    apply: (sample, random) => (random() < p ? transform(sample, random) : sample),
  }
}

function range(name: string, value: number | readonly [number, number], symmetric: boolean): [number, number] {
  const r: [number, number] = typeof value === 'number' ? (symmetric ? [-value, value] : [value, value]) : [value[0], value[1]]
  checkOption(r[0] <= r[1], `${name}: range [${r[0]}, ${r[1]}] is empty`)
  return r
}

function draw(random: Random, [lo, hi]: [number, number]): number {
  return lo + (hi - lo) * random()
}

/**
 * Runs `transforms` in order, the whole chain with probability `p` (default 1),
 * each with its own `p`: albumentations' `Compose`.
 *
 * @param transforms - augmentations to chain
 * @param options - `p`: probability of running the chain
 * @returns an augmentation
 * @example
 * ```ts
 * const augment = compose([horizontalFlip({ p: 0.5 }), shiftScaleRotate({ p: 0.5 }), brightness({ limit: 0.1 })])
 * const out = augmentSample(augment, { image, mask, height: 101, width: 101 }, 42)
 * ```
 */
export function compose(transforms: readonly Augmentation[], options: { p?: number } = {}): Augmentation {
  return make(`compose(${transforms.map((t) => t.name).join(', ')})`, options.p ?? 1, (sample, random) => {
    let out = sample
    for (const t of transforms) out = t.apply(out, random)
    return out
  })
}

/**
 * With probability `p` (default 0.5), runs exactly one of `transforms`, picked
 * with weights proportional to their own `p`: albumentations' `OneOf`.
 *
 * @param transforms - candidates
 * @param options - `p`: probability of running one
 * @returns an augmentation
 * @example
 * ```ts
 * const pixel = oneOf([brightness(), contrast(), gamma()], { p: 0.8 })
 * ```
 */
export function oneOf(transforms: readonly Augmentation[], options: { p?: number } = {}): Augmentation {
  checkOption(transforms.length > 0, 'oneOf needs at least one transform')
  const total = transforms.reduce((s, t) => s + t.p, 0)
  return make(`oneOf(${transforms.map((t) => t.name).join(', ')})`, options.p ?? 0.5, (sample, random) => {
    if (total <= 0) return sample
    let u = random() * total
    for (const t of transforms) {
      u -= t.p
      if (u < 0) return t.transform(sample, random)
    }
    return transforms[transforms.length - 1]!.transform(sample, random)
  })
}

/**
 * Runs `augmentation` on one sample with a seeded generator: the same seed
 * gives the same result.
 *
 * @param augmentation - what to run
 * @param sample - image (and mask)
 * @param seed - seed for this sample
 * @returns the augmented sample (new arrays where changed)
 * @example
 * ```ts
 * const { image, mask } = augmentSample(horizontalFlip({ p: 1 }), sample, 0)
 * ```
 */
export function augmentSample(augmentation: Augmentation, sample: AugmentSample, seed: number): AugmentSample {
  return augmentation.apply(sample, seededRandom(seed))
}

/**
 * Mirrors image and mask left–right.
 *
 * @param options - `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * horizontalFlip({ p: 0.5 })
 * ```
 */
export function horizontalFlip(options: { p?: number } = {}): Augmentation {
  return make('horizontalFlip', options.p ?? 0.5, (s) => {
    const flip = <T extends Float32Array | Uint8Array>(a: T): T => {
      const out = new (a.constructor as new (n: number) => T)(a.length)
      for (let y = 0; y < s.height; y++) {
        const row = y * s.width
        for (let x = 0; x < s.width; x++) out[row + x] = a[row + s.width - 1 - x]!
      }
      return out
    }
    return { ...s, image: flip(s.image), ...(s.mask ? { mask: flip(s.mask) } : {}) }
  })
}

/** Options of {@link shiftScaleRotate}, named and defaulted like albumentations' `ShiftScaleRotate`. */
export interface ShiftScaleRotateOptions {
  /** Shift as a share of the side, drawn from ±limit (or [lo, hi]). Default 0.0625. */
  shiftLimit?: number | [number, number]
  /** Scale factor is 1 + a draw from ±limit (or [lo, hi]). Default 0.1. */
  scaleLimit?: number | [number, number]
  /** Rotation in degrees, drawn from ±limit (or [lo, hi]). Default 45. */
  rotateLimit?: number | [number, number]
  /** How pixels outside the image are filled: mirrored (default, OpenCV's REFLECT_101) or 0. */
  border?: 'reflect' | 'constant'
  /** Default 0.5. */
  p?: number
}

function mirror(i: number, n: number): number {
  if (n === 1) return 0
  const period = 2 * (n - 1)
  let m = i % period
  if (m < 0) m += period
  return m < n ? m : period - m
}

/**
 * Shifts, scales and rotates image and mask with one affine map about the
 * centre: bilinear for the image, nearest for the mask, so they stay aligned.
 *
 * @param options - limits, border and `p`
 * @returns an augmentation
 * @example
 * ```ts
 * shiftScaleRotate({ shiftLimit: 0.1, scaleLimit: 0.1, rotateLimit: 10, p: 0.5 })
 * ```
 */
export function shiftScaleRotate(options: ShiftScaleRotateOptions = {}): Augmentation {
  const shift = range('shiftScaleRotate shiftLimit', options.shiftLimit ?? 0.0625, true)
  const scale = range('shiftScaleRotate scaleLimit', options.scaleLimit ?? 0.1, true)
  const rotate = range('shiftScaleRotate rotateLimit', options.rotateLimit ?? 45, true)
  const border = options.border ?? 'reflect'
  checkOption(border === 'reflect' || border === 'constant', `shiftScaleRotate border must be 'reflect' or 'constant', got ${String(border)}`)
  return make('shiftScaleRotate', options.p ?? 0.5, (s, random) => {
    const angle = (draw(random, rotate) * Math.PI) / 180
    const k = 1 + draw(random, scale)
    const dx = draw(random, shift) * s.width
    const dy = draw(random, shift) * s.height
    const { height: h, width: w } = s
    const cx = (w - 1) / 2
    const cy = (h - 1) / 2
    const cos = Math.cos(angle) / k
    const sin = Math.sin(angle) / k
    const image = new Float32Array(h * w)
    const mask = s.mask ? new Uint8Array(h * w) : undefined
    const reflect = border === 'reflect'
    const src = s.image
    const srcMask = s.mask
    // Outside the image: mirrored index, or -1 for the constant (zero) border.
    const clampX = (i: number): number => (i >= 0 && i < w ? i : reflect ? mirror(i, w) : -1)
    const clampY = (i: number): number => (i >= 0 && i < h ? i : reflect ? mirror(i, h) : -1)
    const at = (xx: number, yy: number): number => (xx < 0 || yy < 0 ? 0 : src[yy * w + xx]!)
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        // Inverse map: where in the source does this output pixel come from?
        const px = x - cx - dx
        const py = y - cy - dy
        const sx = cos * px + sin * py + cx
        const sy = -sin * px + cos * py + cy
        const o = y * w + x
        const x0 = Math.floor(sx)
        const y0 = Math.floor(sy)
        const fx = sx - x0
        const fy = sy - y0
        let a: number
        let b: number
        let c: number
        let d: number
        if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
          // Inside: the common case, no border handling.
          const k = y0 * w + x0
          a = src[k]!
          b = src[k + 1]!
          c = src[k + w]!
          d = src[k + w + 1]!
        } else {
          const xa = clampX(x0)
          const xb = clampX(x0 + 1)
          const ya = clampY(y0)
          const yb = clampY(y0 + 1)
          a = at(xa, ya)
          b = at(xb, ya)
          c = at(xa, yb)
          d = at(xb, yb)
        }
        const top = a + (b - a) * fx
        image[o] = top + (c + (d - c) * fx - top) * fy
        if (mask) {
          const mx = clampX(Math.round(sx))
          const my = clampY(Math.round(sy))
          mask[o] = mx < 0 || my < 0 ? 0 : srcMask![my * w + mx]!
        }
      }
    }
    return { ...s, image, ...(mask ? { mask } : {}) }
  })
}

function mapPixels(s: AugmentSample, f: (v: number) => number): AugmentSample {
  const image = new Float32Array(s.image.length)
  for (let i = 0; i < image.length; i++) {
    const v = f(s.image[i]!)
    image[i] = v < 0 ? 0 : v > 1 ? 1 : v
  }
  return { ...s, image }
}

/**
 * Adds a brightness offset drawn from ±`limit` (image only; clipped to [0, 1]).
 *
 * @param options - `limit` (default 0.2, or [lo, hi]) and `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * brightness({ limit: 0.1 })
 * ```
 */
export function brightness(options: { limit?: number | [number, number]; p?: number } = {}): Augmentation {
  const r = range('brightness limit', options.limit ?? 0.2, true)
  return make('brightness', options.p ?? 0.5, (s, random) => {
    const beta = draw(random, r)
    return mapPixels(s, (v) => v + beta)
  })
}

/**
 * Scales contrast about the image mean by 1 + a draw from ±`limit` (image only).
 *
 * @param options - `limit` (default 0.2, or [lo, hi]) and `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * contrast({ limit: 0.2 })
 * ```
 */
export function contrast(options: { limit?: number | [number, number]; p?: number } = {}): Augmentation {
  const r = range('contrast limit', options.limit ?? 0.2, true)
  return make('contrast', options.p ?? 0.5, (s, random) => {
    const alpha = 1 + draw(random, r)
    let mean = 0
    for (let i = 0; i < s.image.length; i++) mean += s.image[i]!
    mean /= s.image.length || 1
    return mapPixels(s, (v) => mean + (v - mean) * alpha)
  })
}

/**
 * Gamma correction `v^(g/100)` with g drawn from `gammaLimit` (image only),
 * like albumentations' `RandomGamma`.
 *
 * @param options - `gammaLimit` (default [80, 120]) and `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * gamma({ gammaLimit: [90, 110] })
 * ```
 */
export function gamma(options: { gammaLimit?: [number, number]; p?: number } = {}): Augmentation {
  const r = range('gamma gammaLimit', options.gammaLimit ?? [80, 120], false)
  checkOption(r[0] > 0, `gamma gammaLimit must be positive, got [${r[0]}, ${r[1]}]`)
  return make('gamma', options.p ?? 0.5, (s, random) => {
    const g = draw(random, r) / 100
    return mapPixels(s, (v) => Math.pow(v, g))
  })
}

/**
 * Box blur with an odd kernel size drawn from `blurLimit` (image only; edges mirrored).
 *
 * @param options - `blurLimit` (default [3, 7]) and `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * blur({ blurLimit: [3, 5] })
 * ```
 */
export function blur(options: { blurLimit?: [number, number]; p?: number } = {}): Augmentation {
  const [lo, hi] = range('blur blurLimit', options.blurLimit ?? [3, 7], false)
  checkOption(lo >= 1, `blur blurLimit must be ≥ 1, got [${lo}, ${hi}]`)
  const sizes: number[] = []
  for (let k = Math.ceil(lo); k <= hi; k++) if (k % 2 === 1) sizes.push(k)
  checkOption(sizes.length > 0, `blur blurLimit [${lo}, ${hi}] holds no odd kernel size`)
  return make('blur', options.p ?? 0.5, (s, random) => {
    const k = sizes[Math.floor(random() * sizes.length)]!
    const r = (k - 1) / 2
    const { height: h, width: w } = s
    const tmp = new Float32Array(h * w)
    const image = new Float32Array(h * w)
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sum = 0
        for (let d = -r; d <= r; d++) sum += s.image[y * w + mirror(x + d, w)]!
        tmp[y * w + x] = sum / k
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sum = 0
        for (let d = -r; d <= r; d++) sum += tmp[mirror(y + d, h) * w + x]!
        image[y * w + x] = sum / k
      }
    }
    return { ...s, image }
  })
}

/**
 * Adds Gaussian noise with a standard deviation drawn from `std` (image only; clipped to [0, 1]).
 *
 * @param options - `std` (default [0.01, 0.05], in image units) and `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * noise({ std: [0.01, 0.03] })
 * ```
 */
export function noise(options: { std?: number | [number, number]; p?: number } = {}): Augmentation {
  const r = range('noise std', options.std ?? [0.01, 0.05], false)
  checkOption(r[0] >= 0, `noise std must be ≥ 0, got [${r[0]}, ${r[1]}]`)
  return make('noise', options.p ?? 0.5, (s, random) => {
    const sd = draw(random, r)
    return mapPixels(s, (v) => v + sd * gaussian(random))
  })
}
