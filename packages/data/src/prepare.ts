import { DataError, checkOption } from './errors'
import { type Interpolation, resample } from './resample'

/** How an image goes from its own size to the model's: stretched, padded, or resized keeping its aspect ratio then padded. */
export type PrepareMode = 'resize' | 'pad' | 'letterbox'

/**
 * How images are brought to the model size and predictions back: the same spec
 * goes into training, `unet predict`, the browser page and `run.json`'s `prepare`.
 */
export interface PrepareSpec {
  /** Model input width. */
  width: number
  /** Model input height. */
  height: number
  /** `'resize'` stretches to width × height; `'pad'` pads around the image (it must fit); `'letterbox'` resizes keeping the aspect ratio, then pads. */
  mode: PrepareMode
  /** What fills the padding: `'reflect'` (mirror without repeating the edge, numpy's `reflect`; default) or `'constant'` (0). */
  pad?: 'reflect' | 'constant'
  /** Image resampling: `'bilinear'` (default), `'bicubic'` or `'area'`. */
  interpolation?: Interpolation
}

/** Where the (resized) image sits inside the model-size frame. */
export interface Placement {
  /** Size of the image after resizing, before padding. */
  width: number
  height: number
  /** Offset of its top-left corner in the model-size frame. */
  left: number
  top: number
}

/** How masks are resized: `'threshold'` (resample like the image, then ≥ 0.5; default) or `'nearest'`. */
export type MaskInterpolation = 'threshold' | 'nearest'

const MODES: readonly PrepareMode[] = ['resize', 'pad', 'letterbox']

function checkSpec(spec: PrepareSpec): void {
  checkOption(
    Number.isInteger(spec.width) && spec.width > 0 && Number.isInteger(spec.height) && spec.height > 0,
    `prepare: width and height must be positive integers, got ${spec.width}×${spec.height}`,
  )
  checkOption(MODES.includes(spec.mode), `prepare: mode must be one of ${MODES.join(', ')}, got ${String(spec.mode)}`)
  checkOption(spec.pad === undefined || spec.pad === 'reflect' || spec.pad === 'constant', `prepare: pad must be 'reflect' or 'constant', got ${String(spec.pad)}`)
}

/**
 * Where an image of `original` size lands in the model frame of `spec`: the
 * geometry shared by {@link prepareImage} and its inverse {@link restoreProbabilities}.
 *
 * @param original - the image's own width and height
 * @param spec - the model size and mode
 * @returns size after resizing and offsets of the padding
 * @example
 * ```ts
 * placement({ width: 1918, height: 1280 }, { width: 512, height: 512, mode: 'letterbox' }) // { width: 512, height: 342, left: 0, top: 85 }
 * ```
 */
export function placement(original: { width: number; height: number }, spec: PrepareSpec): Placement {
  checkSpec(spec)
  const { width: w, height: h } = original
  checkOption(Number.isInteger(w) && w > 0 && Number.isInteger(h) && h > 0, `prepare: image size must be positive integers, got ${w}×${h}`)
  if (spec.mode === 'resize') return { width: spec.width, height: spec.height, left: 0, top: 0 }
  let rw = w
  let rh = h
  if (spec.mode === 'pad') {
    checkOption(
      w <= spec.width && h <= spec.height,
      `prepare: mode 'pad' cannot fit a ${w}×${h} image into ${spec.width}×${spec.height}; use mode 'letterbox' or 'resize', or a larger model size`,
    )
  } else {
    const s = Math.min(spec.width / w, spec.height / h)
    rw = Math.min(spec.width, Math.max(1, Math.round(w * s)))
    rh = Math.min(spec.height, Math.max(1, Math.round(h * s)))
  }
  return { width: rw, height: rh, left: Math.floor((spec.width - rw) / 2), top: Math.floor((spec.height - rh) / 2) }
}

/** Mirror index into [0, n) without repeating the edge (numpy 'reflect'). */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0
  const period = 2 * (n - 1)
  let m = i % period
  if (m < 0) m += period
  return m < n ? m : period - m
}

function padInto<T extends Float32Array | Uint8Array>(
  src: ArrayLike<number>,
  place: Placement,
  channels: number,
  spec: PrepareSpec,
  out: T,
): T {
  const { width: W, height: H } = spec
  const { width: rw, height: rh, left, top } = place
  const reflect = (spec.pad ?? 'reflect') === 'reflect'
  const cols = new Int32Array(W)
  for (let x = 0; x < W; x++) cols[x] = reflect ? reflectIndex(x - left, rw) : x - left >= 0 && x - left < rw ? x - left : -1
  for (let y = 0; y < H; y++) {
    const sy = reflect ? reflectIndex(y - top, rh) : y - top >= 0 && y - top < rh ? y - top : -1
    if (sy < 0) continue // constant padding: already 0
    const srow = sy * rw * channels
    const orow = y * W * channels
    for (let x = 0; x < W; x++) {
      const sx = cols[x]!
      if (sx < 0) continue
      const s = srow + sx * channels
      const o = orow + x * channels
      for (let k = 0; k < channels; k++) out[o + k] = src[s + k]!
    }
  }
  return out
}

/**
 * Brings one image from its own size to the model size of `spec`: resize,
 * pad, or letterbox (resize keeping the aspect ratio, then pad). Pure
 * TypeScript on typed arrays, so training, `unet predict` and the browser give
 * identical numbers. {@link restoreProbabilities} is its inverse.
 *
 * @param image - `size.height × size.width × size.channels` values, row-major, channels interleaved
 * @param size - the image's width, height and channels
 * @param spec - the model size and how to get there
 * @returns `spec.height × spec.width × size.channels` values
 * @example
 * ```ts
 * const x = prepareImage(photo, { width: 1918, height: 1280, channels: 3 }, { width: 512, height: 512, mode: 'letterbox' })
 * ```
 */
export function prepareImage(image: Float32Array, size: { width: number; height: number; channels: number }, spec: PrepareSpec): Float32Array {
  const place = placement(size, spec)
  const c = size.channels
  checkOption(Number.isInteger(c) && c > 0, `prepare: channels must be a positive integer, got ${c}`)
  checkOption(image.length === size.width * size.height * c, `prepare: expected ${size.width}×${size.height}×${c} = ${size.width * size.height * c} values, got ${image.length}`)
  const resized =
    place.width === size.width && place.height === size.height
      ? image
      : resample(image, size, place, spec.interpolation ?? 'bilinear')
  if (place.width === spec.width && place.height === spec.height) return resized === image ? image.slice() : resized
  return padInto(resized, place, c, spec, new Float32Array(spec.width * spec.height * c))
}

/**
 * Brings a 0/1 mask to the model size of `spec`, with the geometry of
 * {@link prepareImage}: resized by `'threshold'` (resampled like the image, then
 * ≥ 0.5; default) or `'nearest'`, and padded the same way (reflect mirrors the mask, constant pads 0).
 *
 * @param mask - `size.height × size.width` values (non-zero is foreground)
 * @param size - the mask's width and height
 * @param spec - the model size and how to get there
 * @param options - `interpolation`: `'threshold'` (default) or `'nearest'`
 * @returns `spec.height × spec.width` 0/1 values
 * @example
 * ```ts
 * const y = prepareMask(mask, { width: 1918, height: 1280 }, { width: 512, height: 512, mode: 'resize' })
 * ```
 */
export function prepareMask(
  mask: ArrayLike<number>,
  size: { width: number; height: number },
  spec: PrepareSpec,
  options: { interpolation?: MaskInterpolation } = {},
): Uint8Array {
  const place = placement(size, spec)
  const method = options.interpolation ?? 'threshold'
  checkOption(method === 'threshold' || method === 'nearest', `prepareMask: interpolation must be 'threshold' or 'nearest', got ${String(method)}`)
  checkOption(mask.length === size.width * size.height, `prepareMask: expected ${size.width}×${size.height} = ${size.width * size.height} values, got ${mask.length}`)
  let resized: Uint8Array
  if (place.width === size.width && place.height === size.height) {
    resized = new Uint8Array(mask.length)
    for (let i = 0; i < mask.length; i++) resized[i] = mask[i] !== 0 ? 1 : 0
  } else {
    const binary = new Float32Array(mask.length)
    for (let i = 0; i < mask.length; i++) binary[i] = mask[i] !== 0 ? 1 : 0
    const r = resample(binary, { ...size, channels: 1 }, place, method === 'nearest' ? 'nearest' : (spec.interpolation ?? 'bilinear'))
    resized = threshold(r, 0.5)
  }
  if (place.width === spec.width && place.height === spec.height) return resized
  return padInto(resized, place, 1, spec, new Uint8Array(spec.width * spec.height))
}

/**
 * The inverse of {@link prepareImage} for predictions: crops the padding and
 * resizes (bilinearly, which never overshoots) back to the image's own size.
 * Pad mode is exact: `restoreProbabilities(prepareImage(x))` gives `x` back.
 * Several channels per pixel (`k` classes) are accepted when the length is `k × spec.height × spec.width`.
 *
 * @param probs - `spec.height × spec.width` (× k) model outputs: probabilities or logits
 * @param original - the image's own width and height
 * @param spec - the spec the image was prepared with
 * @returns `original.height × original.width` (× k) values
 * @example
 * ```ts
 * const p = restoreProbabilities(output, { width: 1918, height: 1280 }, { width: 512, height: 512, mode: 'letterbox' })
 * ```
 */
export function restoreProbabilities(probs: Float32Array, original: { width: number; height: number }, spec: PrepareSpec): Float32Array {
  const place = placement(original, spec)
  const plane = spec.width * spec.height
  const k = probs.length / plane
  checkOption(Number.isInteger(k) && k >= 1, `restoreProbabilities: expected ${spec.width}×${spec.height} = ${plane} values (or a multiple, one per class), got ${probs.length}`)
  let cropped = probs
  if (place.width !== spec.width || place.height !== spec.height) {
    cropped = new Float32Array(place.width * place.height * k)
    for (let y = 0; y < place.height; y++) {
      const s = ((y + place.top) * spec.width + place.left) * k
      cropped.set(probs.subarray(s, s + place.width * k), y * place.width * k)
    }
  }
  if (place.width === original.width && place.height === original.height) return cropped === probs ? probs.slice() : cropped
  return resample(cropped, { width: place.width, height: place.height, channels: k }, original, 'bilinear')
}

/**
 * {@link restoreProbabilities}, then a threshold: the 0/1 mask at the image's own size.
 *
 * @param probs - `spec.height × spec.width` probabilities (or logits with `threshold: 0`)
 * @param original - the image's own width and height
 * @param spec - the spec the image was prepared with
 * @param threshold - foreground where the restored value is ≥ this (default 0.5)
 * @returns `original.height × original.width` 0/1 values
 * @example
 * ```ts
 * const mask = restoreMask(output, { width: 101, height: 101 }, { width: 128, height: 128, mode: 'pad' })
 * ```
 */
export function restoreMask(probs: Float32Array, original: { width: number; height: number }, spec: PrepareSpec, threshold_ = 0.5): Uint8Array {
  return threshold(restoreProbabilities(probs, original, spec), threshold_)
}

function threshold(values: Float32Array, t: number): Uint8Array {
  const out = new Uint8Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = values[i]! >= t ? 1 : 0
  return out
}

/**
 * Checks a model size against the U-Net depth: each side must be a multiple of `2 ** depth`.
 *
 * @param spec - the model width and height
 * @param depth - number of down-sampling steps
 * @returns nothing; throws `BAD_OPTION` naming the nearest valid sizes
 * @example
 * ```ts
 * checkModelSize({ width: 384, height: 192 }, 5) // fine: both multiples of 32
 * ```
 */
export function checkModelSize(spec: { width: number; height: number }, depth: number): void {
  const m = 2 ** depth
  for (const side of ['width', 'height'] as const) {
    const v = spec[side]
    if (v % m !== 0) {
      const lo = Math.max(m, Math.floor(v / m) * m)
      throw new DataError('BAD_OPTION', `model ${side} ${v} is not a multiple of 2^${depth} = ${m} (a U-Net of depth ${depth} halves it ${depth} times); use ${lo} or ${lo + m}`)
    }
  }
}

/**
 * Gives an image the channel count a model takes, as `run.json` says: grey to
 * RGB repeats the channel; the same count is returned as it is; RGB to grey is
 * refused (the colour would be lost), naming both counts.
 *
 * @param image - `height × width × size.channels` values
 * @param size - width, height and channels of `image`
 * @param channels - what the model takes (its `input.channels`)
 * @returns `height × width × channels` values
 * @example
 * ```ts
 * const rgb = matchChannels(grey, { width: 101, height: 101, channels: 1 }, 3) // for an ImageNet encoder
 * ```
 */
export function matchChannels(image: Float32Array, size: { width: number; height: number; channels: number }, channels: number): Float32Array {
  const n = size.width * size.height
  checkOption(image.length === n * size.channels, `matchChannels: expected ${size.width}×${size.height}×${size.channels} = ${n * size.channels} values, got ${image.length}`)
  if (size.channels === channels) return image
  if (size.channels === 1) {
    const out = new Float32Array(n * channels)
    for (let i = 0; i < n; i++) out.fill(image[i]!, i * channels, (i + 1) * channels)
    return out
  }
  throw new DataError(
    'BAD_OPTION',
    `the model takes ${channels}-channel images but this image has ${size.channels} channels; only grey images are converted (by repeating the channel): give images with ${channels} channel(s), or a model trained on ${size.channels}`,
  )
}
