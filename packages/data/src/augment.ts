import { DataError, checkOption } from './errors'
import { type Random, createRng, gaussian } from './rng'

/**
 * What augmentations work on: an interleaved `height × width × channels` image
 * (channels = `image.length / (height × width)`) and optionally its 0/1 mask.
 */
export interface AugmentSample {
  image: Float32Array
  mask?: Uint8Array
  height: number
  width: number
}

/**
 * One augmentation. `apply` runs it with probability `p` (like albumentations'
 * `p`); `transform` always runs it. Geometric transforms move image and mask
 * together (nearest for masks, so they stay 0/1); pixel transforms change the
 * image only. Inputs are never modified.
 */
export interface Augmentation {
  readonly name: string
  /** Probability that `apply` transforms the sample. */
  readonly p: number
  apply(sample: AugmentSample, random: Random): AugmentSample
  transform(sample: AugmentSample, random: Random): AugmentSample
}

/** How pixels coming from outside the image are filled: mirrored (OpenCV's REFLECT_101) or 0. */
export type BorderMode = 'reflect' | 'constant'

function make(name: string, p: number, transform: Augmentation['transform']): Augmentation {
  checkOption(typeof p === 'number' && p >= 0 && p <= 1, `${name}: p must be in [0, 1], got ${String(p)}`)
  return { name, p, transform, apply: (sample, random) => (random() < p ? transform(sample, random) : sample) }
}

function channelsOf(s: AugmentSample): number {
  const c = s.image.length / (s.height * s.width)
  checkOption(Number.isInteger(c) && c >= 1, `augment: image has ${s.image.length} values, not a multiple of ${s.height}×${s.width}`)
  return c
}

function range(name: string, value: number | readonly [number, number], symmetric: boolean): [number, number] {
  const r: [number, number] = typeof value === 'number' ? (symmetric ? [-value, value] : [value, value]) : [value[0], value[1]]
  checkOption(Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[0] <= r[1], `${name}: range [${r[0]}, ${r[1]}] is empty or not numeric`)
  return r
}

function draw(random: Random, [lo, hi]: [number, number]): number {
  return lo + (hi - lo) * random()
}

function mirror(i: number, n: number): number {
  if (n === 1) return 0
  const period = 2 * (n - 1)
  let m = i % period
  if (m < 0) m += period
  return m < n ? m : period - m
}

// ---------------------------------------------------------------- combinators

/**
 * Runs `transforms` in order, the whole chain with probability `p` (default 1),
 * each with its own `p`: albumentations' `Compose`.
 *
 * @param transforms - augmentations to chain
 * @param options - `p`: probability of running the chain
 * @returns an augmentation
 * @example
 * ```ts
 * const augment = compose([horizontalFlip({ p: 0.5 }), rotate({ limit: 5, p: 0.3 })])
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
 * Runs `augmentation` on one sample with a seeded generator: the same seed gives the same result.
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
  return augmentation.apply(sample, createRng(seed))
}

// ---------------------------------------------------------------- exact permutations

function permute(s: AugmentSample, outW: number, outH: number, source: (x: number, y: number) => number): AugmentSample {
  const c = channelsOf(s)
  const image = new Float32Array(s.image.length)
  const mask = s.mask ? new Uint8Array(s.mask.length) : undefined
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = y * outW + x
      const i = source(x, y)
      for (let k = 0; k < c; k++) image[o * c + k] = s.image[i * c + k]!
      if (mask) mask[o] = s.mask![i]!
    }
  }
  return { ...s, width: outW, height: outH, image, ...(mask ? { mask } : {}) }
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
  return make('horizontal_flip', options.p ?? 0.5, (s) => permute(s, s.width, s.height, (x, y) => y * s.width + s.width - 1 - x))
}

/**
 * Mirrors image and mask top–bottom.
 *
 * @param options - `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * verticalFlip({ p: 0.5 })
 * ```
 */
export function verticalFlip(options: { p?: number } = {}): Augmentation {
  return make('vertical_flip', options.p ?? 0.5, (s) => permute(s, s.width, s.height, (x, y) => (s.height - 1 - y) * s.width + x))
}

/**
 * Swaps rows and columns (a `height × width` image becomes `width × height`).
 *
 * @param options - `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * transpose({ p: 0.5 })
 * ```
 */
export function transpose(options: { p?: number } = {}): Augmentation {
  return make('transpose', options.p ?? 0.5, (s) => permute(s, s.height, s.width, (x, y) => x * s.width + y))
}

/**
 * Rotates by 0, 90, 180 or 270 degrees (drawn uniformly; non-square images swap width and height at 90 and 270).
 *
 * @param options - `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * randomRotate90({ p: 0.5 })
 * ```
 */
export function randomRotate90(options: { p?: number } = {}): Augmentation {
  return make('random_rotate_90', options.p ?? 0.5, (s, random) => {
    const k = Math.floor(random() * 4)
    const { width: w, height: h } = s
    // Counter-clockwise quarter turns, like np.rot90.
    if (k === 0) return s
    if (k === 1) return permute(s, h, w, (x, y) => x * w + (w - 1 - y))
    if (k === 2) return permute(s, w, h, (x, y) => (h - 1 - y) * w + (w - 1 - x))
    return permute(s, h, w, (x, y) => (h - 1 - x) * w + y)
  })
}

// ---------------------------------------------------------------- affine warps

/**
 * Warps image (bilinear, all channels) and mask (nearest) by an inverse affine
 * map `src = A · (dst − centre − shift) + centre`.
 */
function warpAffine(
  s: AugmentSample,
  m: { a: number; b: number; c: number; d: number; dx: number; dy: number },
  border: BorderMode,
): AugmentSample {
  const { height: h, width: w } = s
  const ch = channelsOf(s)
  const cx = (w - 1) / 2
  const cy = (h - 1) / 2
  const image = new Float32Array(h * w * ch)
  const mask = s.mask ? new Uint8Array(h * w) : undefined
  const reflect = border === 'reflect'
  const src = s.image
  const srcMask = s.mask
  const clampX = (i: number): number => (i >= 0 && i < w ? i : reflect ? mirror(i, w) : -1)
  const clampY = (i: number): number => (i >= 0 && i < h ? i : reflect ? mirror(i, h) : -1)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const px = x - cx - m.dx
      const py = y - cy - m.dy
      const sx = m.a * px + m.b * py + cx
      const sy = m.c * px + m.d * py + cy
      const o = y * w + x
      const x0 = Math.floor(sx)
      const y0 = Math.floor(sy)
      const fx = sx - x0
      const fy = sy - y0
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
        const k0 = (y0 * w + x0) * ch
        const k1 = k0 + w * ch
        for (let k = 0; k < ch; k++) {
          const a = src[k0 + k]!
          const b = src[k0 + ch + k]!
          const c = src[k1 + k]!
          const d = src[k1 + ch + k]!
          const top = a + (b - a) * fx
          image[o * ch + k] = top + (c + (d - c) * fx - top) * fy
        }
      } else {
        const xa = clampX(x0)
        const xb = clampX(x0 + 1)
        const ya = clampY(y0)
        const yb = clampY(y0 + 1)
        sampleBorder(src, w, ch, xa, xb, ya, yb, fx, fy, image, o * ch)
      }
      if (mask) {
        const mx = clampX(Math.round(sx))
        const my = clampY(Math.round(sy))
        mask[o] = mx < 0 || my < 0 ? 0 : srcMask![my * w + mx]!
      }
    }
  }
  return { ...s, image, ...(mask ? { mask } : {}) }
}

function checkBorder(name: string, border: unknown): BorderMode {
  checkOption(border === 'reflect' || border === 'constant', `${name}: border must be 'reflect' or 'constant', got ${String(border)}`)
  return border
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
  border?: BorderMode
  /** Default 0.5. */
  p?: number
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
  const shift = range('shift_scale_rotate shift_limit', options.shiftLimit ?? 0.0625, true)
  const scale = range('shift_scale_rotate scale_limit', options.scaleLimit ?? 0.1, true)
  const rotate = range('shift_scale_rotate rotate_limit', options.rotateLimit ?? 45, true)
  const border = checkBorder('shift_scale_rotate', options.border ?? 'reflect')
  return make('shift_scale_rotate', options.p ?? 0.5, (s, random) => {
    const angle = (draw(random, rotate) * Math.PI) / 180
    const k = 1 + draw(random, scale)
    const dx = draw(random, shift) * s.width
    const dy = draw(random, shift) * s.height
    const cos = Math.cos(angle) / k
    const sin = Math.sin(angle) / k
    return warpAffine(s, { a: cos, b: sin, c: -sin, d: cos, dx, dy }, border)
  })
}

/**
 * Rotates image and mask by an angle drawn from ±`limit` degrees: albumentations' `Rotate`.
 *
 * @param options - `limit` (default 90, or [lo, hi]), `border` (default reflect), `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * rotate({ limit: 5, p: 0.3 })
 * ```
 */
export function rotate(options: { limit?: number | [number, number]; border?: BorderMode; p?: number } = {}): Augmentation {
  const limit = range('rotate limit', options.limit ?? 90, true)
  const border = checkBorder('rotate', options.border ?? 'reflect')
  return make('rotate', options.p ?? 0.5, (s, random) => {
    const angle = (draw(random, limit) * Math.PI) / 180
    const cos = Math.cos(angle)
    const sin = Math.sin(angle)
    return warpAffine(s, { a: cos, b: sin, c: -sin, d: cos, dx: 0, dy: 0 }, border)
  })
}

/** Options of {@link affine}, named like albumentations' `Affine`. */
export interface AffineOptions {
  /** Scale factor drawn from [lo, hi] (a number: that factor). Default 1. */
  scale?: number | [number, number]
  /** Shift as a share of the side, drawn from ±value (or [lo, hi]). Default 0. */
  translatePercent?: number | [number, number]
  /** Rotation in degrees, drawn from ±value (or [lo, hi]). Default 0. */
  rotate?: number | [number, number]
  /** Shear along x in degrees, drawn from ±value (or [lo, hi]). Default 0. */
  shear?: number | [number, number]
  /** Default constant (0), as albumentations' `Affine`. */
  border?: BorderMode
  p?: number
}

/**
 * Scale, translation, rotation and shear about the centre in one map: albumentations' `Affine`
 * (the whale-fluke recipe uses it for a 5° shear).
 *
 * @param options - see {@link AffineOptions}; `p` default 0.5
 * @returns an augmentation
 * @example
 * ```ts
 * affine({ shear: 5, p: 0.5 })
 * ```
 */
export function affine(options: AffineOptions = {}): Augmentation {
  const scale = range('affine scale', options.scale ?? 1, false)
  checkOption(scale[0] > 0, `affine scale must be positive, got [${scale[0]}, ${scale[1]}]`)
  const translate = range('affine translate_percent', options.translatePercent ?? 0, true)
  const rot = range('affine rotate', options.rotate ?? 0, true)
  const shear = range('affine shear', options.shear ?? 0, true)
  checkOption(shear[0] > -90 && shear[1] < 90, `affine shear must be within ±90 degrees, got [${shear[0]}, ${shear[1]}]`)
  const border = checkBorder('affine', options.border ?? 'constant')
  return make('affine', options.p ?? 0.5, (s, random) => {
    const k = draw(random, scale)
    const dx = draw(random, translate) * s.width
    const dy = draw(random, translate) * s.height
    const angle = (draw(random, rot) * Math.PI) / 180
    const sh = Math.tan((draw(random, shear) * Math.PI) / 180)
    // Forward map F = R · Sh · k; the warp needs F⁻¹ = (1/k) · Sh⁻¹ · R⁻¹, with Sh = [[1, sh], [0, 1]].
    const cos = Math.cos(angle)
    const sin = Math.sin(angle)
    // R⁻¹ = [[cos, sin], [-sin, cos]], Sh⁻¹ = [[1, -sh], [0, 1]].
    const a = (cos + sh * sin) / k
    const b = (sin - sh * cos) / k
    const c = -sin / k
    const d = cos / k
    return warpAffine(s, { a, b, c, d, dx, dy }, border)
  })
}

// ---------------------------------------------------------------- non-rigid

/**
 * Warps by separable piecewise-linear grids: each axis is cut into `numSteps`
 * cells whose sizes are scaled by 1 + a draw from ±`distortLimit`: albumentations' `GridDistortion`.
 *
 * @param options - `numSteps` (default 5), `distortLimit` (default 0.3), `border` (default reflect), `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * gridDistortion({ numSteps: 5, distortLimit: 0.3 })
 * ```
 */
export function gridDistortion(
  options: { numSteps?: number; distortLimit?: number | [number, number]; border?: BorderMode; p?: number } = {},
): Augmentation {
  const steps = options.numSteps ?? 5
  checkOption(Number.isInteger(steps) && steps >= 1, `grid_distortion num_steps must be a positive integer, got ${steps}`)
  const limit = range('grid_distortion distort_limit', options.distortLimit ?? 0.3, true)
  checkOption(limit[0] > -1, `grid_distortion distort_limit must stay above -1, got [${limit[0]}, ${limit[1]}]`)
  const border = checkBorder('grid_distortion', options.border ?? 'reflect')
  return make('grid_distortion', options.p ?? 0.5, (s, random) => {
    const axisMap = (n: number): Float64Array => {
      const scales = Array.from({ length: steps }, () => 1 + draw(random, limit))
      const total = scales.reduce((a, b) => a + b, 0)
      // Output cell j (equal sizes) reads from source cell j (size ∝ scale j).
      const out = new Float64Array(n)
      const cell = (n - 1) / steps
      const starts = [0]
      for (const sc of scales) starts.push(starts[starts.length - 1]! + ((n - 1) * sc) / total)
      for (let i = 0; i < n; i++) {
        const j = Math.min(steps - 1, Math.floor(i / cell))
        const f = cell > 0 ? (i - j * cell) / cell : 0
        out[i] = starts[j]! + f * (starts[j + 1]! - starts[j]!)
      }
      return out
    }
    const xs = axisMap(s.width)
    const ys = axisMap(s.height)
    const mapX = new Float32Array(s.width * s.height)
    const mapY = new Float32Array(s.width * s.height)
    for (let y = 0; y < s.height; y++) {
      for (let x = 0; x < s.width; x++) {
        mapX[y * s.width + x] = xs[x]!
        mapY[y * s.width + x] = ys[y]!
      }
    }
    return remap(s, mapX, mapY, border)
  })
}

/**
 * Elastic deformation: a random displacement field smoothed over about `sigma`
 * pixels, scaled so that its largest displacement is `alpha` pixels (unlike
 * albumentations' `ElasticTransform`, whose alpha depends on sigma; no affine part).
 *
 * @param options - `alpha` (largest displacement in pixels, default 10), `sigma` (smoothness in pixels, default 8), `border` (reflect), `p` (0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * elasticTransform({ alpha: 6, sigma: 10 })
 * ```
 */
export function elasticTransform(options: { alpha?: number; sigma?: number; border?: BorderMode; p?: number } = {}): Augmentation {
  const alpha = options.alpha ?? 10
  const sigma = options.sigma ?? 8
  checkOption(alpha >= 0 && sigma > 0, `elastic_transform needs alpha ≥ 0 and sigma > 0, got alpha ${alpha}, sigma ${sigma}`)
  const border = checkBorder('elastic_transform', options.border ?? 'reflect')
  return make('elastic_transform', options.p ?? 0.5, (s, random) => {
    const { width: w, height: h } = s
    const field = (): Float32Array => {
      const f = new Float32Array(w * h)
      for (let i = 0; i < f.length; i++) f[i] = 2 * random() - 1
      // Three box blurs approximate a Gaussian of the given sigma.
      const r = Math.max(1, Math.round(Math.sqrt((12 * sigma * sigma) / 3 + 1) / 2))
      for (let pass = 0; pass < 3; pass++) boxBlurInPlace(f, w, h, r)
      // Normalise so that alpha is the largest displacement in pixels, whatever sigma.
      let max = 0
      for (let i = 0; i < f.length; i++) max = Math.max(max, Math.abs(f[i]!))
      if (max > 0) for (let i = 0; i < f.length; i++) f[i] = (f[i]! / max) * alpha
      return f
    }
    const mapX = field()
    const mapY = field()
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        mapX[y * w + x]! += x
        mapY[y * w + x]! += y
      }
    }
    return remap(s, mapX, mapY, border)
  })
}

function boxBlurInPlace(f: Float32Array, w: number, h: number, r: number): void {
  const tmp = new Float32Array(f.length)
  const k = 2 * r + 1
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0
      for (let d = -r; d <= r; d++) sum += f[y * w + mirror(x + d, w)]!
      tmp[y * w + x] = sum / k
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0
      for (let d = -r; d <= r; d++) sum += tmp[mirror(y + d, h) * w + x]!
      f[y * w + x] = sum / k
    }
  }
}

/** Bilinear sample of all channels at a border (indices already mirrored, or -1 for the constant 0 border). */
function sampleBorder(
  src: Float32Array,
  w: number,
  ch: number,
  xa: number,
  xb: number,
  ya: number,
  yb: number,
  fx: number,
  fy: number,
  out: Float32Array,
  o: number,
): void {
  const ia = ya < 0 ? -1 : ya * w
  const ib = yb < 0 ? -1 : yb * w
  for (let k = 0; k < ch; k++) {
    const a = ia < 0 || xa < 0 ? 0 : src[(ia + xa) * ch + k]!
    const b = ia < 0 || xb < 0 ? 0 : src[(ia + xb) * ch + k]!
    const c = ib < 0 || xa < 0 ? 0 : src[(ib + xa) * ch + k]!
    const d = ib < 0 || xb < 0 ? 0 : src[(ib + xb) * ch + k]!
    const top = a + (b - a) * fx
    out[o + k] = top + (c + (d - c) * fx - top) * fy
  }
}

/** Bilinear (image) and nearest (mask) resampling at source positions `(mapX[i], mapY[i])` of each output pixel i. */
function remap(s: AugmentSample, mapX: Float32Array, mapY: Float32Array, border: BorderMode): AugmentSample {
  const { width: w, height: h } = s
  const ch = channelsOf(s)
  const image = new Float32Array(s.image.length)
  const mask = s.mask ? new Uint8Array(s.mask.length) : undefined
  const reflect = border === 'reflect'
  const cx = (i: number): number => (i >= 0 && i < w ? i : reflect ? mirror(i, w) : -1)
  const cy = (i: number): number => (i >= 0 && i < h ? i : reflect ? mirror(i, h) : -1)
  for (let o = 0; o < w * h; o++) {
    const sx = mapX[o]!
    const sy = mapY[o]!
    const x0 = Math.floor(sx)
    const y0 = Math.floor(sy)
    sampleBorder(s.image, w, ch, cx(x0), cx(x0 + 1), cy(y0), cy(y0 + 1), sx - x0, sy - y0, image, o * ch)
    if (mask) {
      const mx = cx(Math.round(sx))
      const my = cy(Math.round(sy))
      mask[o] = mx < 0 || my < 0 ? 0 : s.mask![my * w + mx]!
    }
  }
  return { ...s, image, ...(mask ? { mask } : {}) }
}

// ---------------------------------------------------------------- pixel transforms (image only)

function mapPixels(s: AugmentSample, f: (v: number, i: number) => number): AugmentSample {
  const image = new Float32Array(s.image.length)
  for (let i = 0; i < image.length; i++) {
    const v = f(s.image[i]!, i)
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
  const r = range('random_brightness limit', options.limit ?? 0.2, true)
  return make('random_brightness', options.p ?? 0.5, (s, random) => {
    const beta = draw(random, r)
    return mapPixels(s, (v) => v + beta)
  })
}

function meanOf(a: Float32Array): number {
  let mean = 0
  for (let i = 0; i < a.length; i++) mean += a[i]!
  return mean / (a.length || 1)
}

/**
 * Scales contrast about the image mean by 1 + a draw from ±`limit` (image only):
 * the overall brightness stays.
 *
 * @param options - `limit` (default 0.2, or [lo, hi]) and `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * contrast({ limit: 0.2 })
 * ```
 */
export function contrast(options: { limit?: number | [number, number]; p?: number } = {}): Augmentation {
  const r = range('random_contrast limit', options.limit ?? 0.2, true)
  return make('random_contrast', options.p ?? 0.5, (s, random) => {
    const alpha = 1 + draw(random, r)
    const mean = meanOf(s.image)
    return mapPixels(s, (v) => mean + (v - mean) * alpha)
  })
}

/**
 * Brightness and contrast in one step, albumentations' `RandomBrightnessContrast`:
 * `mean + (v − mean)·(1 + α) + β`, α from ±`contrastLimit`, β from ±`brightnessLimit`.
 *
 * @param options - `brightnessLimit` (0.2), `contrastLimit` (0.2), `p` (0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * brightnessContrast({ brightnessLimit: 0.1, contrastLimit: 0.1, p: 0.2 })
 * ```
 */
export function brightnessContrast(
  options: { brightnessLimit?: number | [number, number]; contrastLimit?: number | [number, number]; p?: number } = {},
): Augmentation {
  const b = range('random_brightness_contrast brightness_limit', options.brightnessLimit ?? 0.2, true)
  const c = range('random_brightness_contrast contrast_limit', options.contrastLimit ?? 0.2, true)
  return make('random_brightness_contrast', options.p ?? 0.5, (s, random) => {
    const alpha = 1 + draw(random, c)
    const beta = draw(random, b)
    const mean = meanOf(s.image)
    return mapPixels(s, (v) => mean + (v - mean) * alpha + beta)
  })
}

/**
 * Gamma correction `v^(g/100)` with g drawn from `gammaLimit` (image only), like albumentations' `RandomGamma`.
 *
 * @param options - `gammaLimit` (default [80, 120]) and `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * gamma({ gammaLimit: [90, 110] })
 * ```
 */
export function gamma(options: { gammaLimit?: number | [number, number]; p?: number } = {}): Augmentation {
  const r = range('random_gamma gamma_limit', options.gammaLimit ?? [80, 120], false)
  checkOption(r[0] > 0, `random_gamma gamma_limit must be positive, got [${r[0]}, ${r[1]}]`)
  return make('random_gamma', options.p ?? 0.5, (s, random) => {
    const g = draw(random, r) / 100
    return mapPixels(s, (v) => Math.pow(v, g))
  })
}

/**
 * Box blur, albumentations' `Blur`: the kernel size is drawn from `lo, lo + 2, … ≤ hi`
 * of `blurLimit` (a number n means [min(n, 3), max(n, 3)], so `2` gives a 2 × 2 kernel). Image only; edges mirrored.
 *
 * @param options - `blurLimit` (default [3, 7]) and `p` (default 0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * blur({ blurLimit: 2, p: 0.5 }) // the whale-fluke recipe
 * ```
 */
export function blur(options: { blurLimit?: number | [number, number]; p?: number } = {}): Augmentation {
  const limit = options.blurLimit ?? [3, 7]
  const [lo, hi] = typeof limit === 'number' ? [Math.min(limit, 3), Math.max(limit, 3)] : range('blur blur_limit', limit, false)
  checkOption(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1, `blur blur_limit must be integers ≥ 1, got [${lo}, ${hi}]`)
  const sizes: number[] = []
  for (let k = lo; k <= hi; k += 2) sizes.push(k)
  return make('blur', options.p ?? 0.5, (s, random) => {
    const k = sizes[Math.floor(random() * sizes.length)]!
    return boxBlurImage(s, k)
  })
}

/**
 * A k × k box blur of every channel (OpenCV's `blur`: the window starts ⌊k/2⌋ before the pixel; edges mirrored).
 * What `blur` draws, and what a blurred test-time-augmentation view uses.
 *
 * @param s - the sample (the mask is kept as it is)
 * @param k - kernel size (1 returns the sample unchanged)
 * @returns the blurred sample
 * @example
 * ```ts
 * const blurred = boxBlurImage({ image, width, height }, 3)
 * ```
 */
export function boxBlurImage(s: AugmentSample, k: number): AugmentSample {
  if (k <= 1) return s
  const { height: h, width: w } = s
  const ch = channelsOf(s)
  const from = -Math.floor(k / 2)
  const to = from + k - 1
  const tmp = new Float32Array(s.image.length)
  const image = new Float32Array(s.image.length)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < ch; c++) {
        let sum = 0
        for (let d = from; d <= to; d++) sum += s.image[(y * w + mirror(x + d, w)) * ch + c]!
        tmp[(y * w + x) * ch + c] = sum / k
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < ch; c++) {
        let sum = 0
        for (let d = from; d <= to; d++) sum += tmp[(mirror(y + d, h) * w + x) * ch + c]!
        image[(y * w + x) * ch + c] = sum / k
      }
    }
  }
  return { ...s, image }
}

/**
 * Adds Gaussian noise with a standard deviation drawn from `std` (image units; clipped to [0, 1]).
 *
 * @param options - `std` (default [0.01, 0.05]) and `p` (default 0.5)
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

/**
 * albumentations' `GaussNoise`: variance drawn from `varLimit` in 8-bit units (0…255²), mean `mean` (8-bit units).
 *
 * @param options - `varLimit` (default [10, 50]), `mean` (0), `p` (0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * gaussNoise({ varLimit: [10, 50] })
 * ```
 */
export function gaussNoise(options: { varLimit?: number | [number, number]; mean?: number; p?: number } = {}): Augmentation {
  const limit = options.varLimit ?? [10, 50]
  const r = typeof limit === 'number' ? range('gauss_noise var_limit', [0, limit], false) : range('gauss_noise var_limit', limit, false)
  checkOption(r[0] >= 0, `gauss_noise var_limit must be ≥ 0, got [${r[0]}, ${r[1]}]`)
  const mean = (options.mean ?? 0) / 255
  return make('gauss_noise', options.p ?? 0.5, (s, random) => {
    const sd = Math.sqrt(draw(random, r)) / 255
    return mapPixels(s, (v) => v + mean + sd * gaussian(random))
  })
}

/**
 * Shifts hue (degrees), saturation and value of RGB images: albumentations' `HueSaturationValue`
 * (saturation and value shifts in 8-bit units, 0…255). Needs 3 channels.
 *
 * @param options - `hueShiftLimit` (20), `satShiftLimit` (30), `valShiftLimit` (20), `p` (0.5)
 * @returns an augmentation
 * @example
 * ```ts
 * hueSaturationValue({ hueShiftLimit: 10 })
 * ```
 */
export function hueSaturationValue(
  options: {
    hueShiftLimit?: number | [number, number]
    satShiftLimit?: number | [number, number]
    valShiftLimit?: number | [number, number]
    p?: number
  } = {},
): Augmentation {
  const hr = range('hue_saturation_value hue_shift_limit', options.hueShiftLimit ?? 20, true)
  const sr = range('hue_saturation_value sat_shift_limit', options.satShiftLimit ?? 30, true)
  const vr = range('hue_saturation_value val_shift_limit', options.valShiftLimit ?? 20, true)
  return make('hue_saturation_value', options.p ?? 0.5, (s, random) => {
    const ch = channelsOf(s)
    if (ch !== 3) {
      throw new DataError('BAD_OPTION', `hue_saturation_value needs RGB images (3 channels), got ${ch}; leave it out for grey data`)
    }
    const dh = draw(random, hr) / 360
    const ds = draw(random, sr) / 255
    const dv = draw(random, vr) / 255
    const image = new Float32Array(s.image.length)
    for (let i = 0; i < image.length; i += 3) {
      const r = s.image[i]!
      const g = s.image[i + 1]!
      const b = s.image[i + 2]!
      const max = Math.max(r, g, b)
      const min = Math.min(r, g, b)
      const d = max - min
      let hue = 0
      if (d > 0) hue = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4
      hue = (((hue / 6 + dh) % 1) + 1) % 1
      const sat = Math.min(1, Math.max(0, (max > 0 ? d / max : 0) + ds))
      const val = Math.min(1, Math.max(0, max + dv))
      const c = val * sat
      const hh = hue * 6
      const x = c * (1 - Math.abs((hh % 2) - 1))
      const m = val - c
      const sector = Math.floor(hh) % 6
      const [rr, gg, bb] =
        sector === 0 ? [c, x, 0] : sector === 1 ? [x, c, 0] : sector === 2 ? [0, c, x] : sector === 3 ? [0, x, c] : sector === 4 ? [x, 0, c] : [c, 0, x]
      image[i] = rr + m
      image[i + 1] = gg + m
      image[i + 2] = bb + m
    }
    return { ...s, image }
  })
}
