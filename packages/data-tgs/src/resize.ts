import { checkOption } from './errors'
import type { ImageShape } from './types'

/** How 101 × 101 TGS images are brought to the model's size and back. */
export type SizeMode = 'resize' | 'pad'

/** Options of {@link toModelSize} and {@link fromModelSize}. */
export interface ModelSizeOptions {
  /** The model's square input side. Default 128. */
  size?: number
  /**
   * `'resize'` (default): bilinear for images and probabilities, bilinear then
   * threshold at 0.5 for masks. `'pad'`: reflect-pad (mirror without repeating
   * the edge, numpy's `'reflect'`) to `size`, 13 pixels before and 14 after for
   * 101 → 128; the inverse crops.
   */
  mode?: SizeMode
  /** `'image'` (default; Float32 values) or `'mask'` (0/1 values, returned as Uint8Array). */
  kind?: 'image' | 'mask'
}

interface AxisMap {
  i0: Int32Array
  i1: Int32Array
  w: Float32Array
}

const axisCache = new Map<string, AxisMap>()

/** Half-pixel-centred linear sampling positions (OpenCV / tf `halfPixelCenters`). */
function axisMap(from: number, to: number): AxisMap {
  const key = `${from}>${to}`
  let map = axisCache.get(key)
  if (map) return map
  map = { i0: new Int32Array(to), i1: new Int32Array(to), w: new Float32Array(to) }
  const scale = from / to
  for (let o = 0; o < to; o++) {
    const src = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), from - 1)
    const i0 = Math.floor(src)
    map.i0[o] = i0
    map.i1[o] = Math.min(i0 + 1, from - 1)
    map.w[o] = src - i0
  }
  axisCache.set(key, map)
  return map
}

/**
 * Bilinear resize of one channel, row-major, with half-pixel centres.
 *
 * @param pixels - `from.height × from.width` values
 * @param from - source size
 * @param to - target size
 * @returns `to.height × to.width` values
 * @example
 * ```ts
 * resizeBilinear([0, 1], { height: 1, width: 2 }, { height: 1, width: 4 }) // [0, 0.25, 0.75, 1]
 * ```
 */
export function resizeBilinear(input: ArrayLike<number>, from: ImageShape, to: ImageShape): Float32Array {
  // One element type in the hot loop keeps it monomorphic (masks arrive as Uint8Array).
  const pixels = input instanceof Float32Array ? input : Float32Array.from(input)
  const ys = axisMap(from.height, to.height)
  const xs = axisMap(from.width, to.width)
  const out = new Float32Array(to.height * to.width)
  const fw = from.width
  for (let y = 0; y < to.height; y++) {
    const r0 = ys.i0[y]! * fw
    const r1 = ys.i1[y]! * fw
    const wy = ys.w[y]!
    const row = y * to.width
    for (let x = 0; x < to.width; x++) {
      const x0 = xs.i0[x]!
      const x1 = xs.i1[x]!
      const wx = xs.w[x]!
      const top = pixels[r0 + x0]! + (pixels[r0 + x1]! - pixels[r0 + x0]!) * wx
      const bottom = pixels[r1 + x0]! + (pixels[r1 + x1]! - pixels[r1 + x0]!) * wx
      out[row + x] = top + (bottom - top) * wy
    }
  }
  return out
}

/** Mirror index into [0, n) without repeating the edge (numpy 'reflect'). */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0
  const period = 2 * (n - 1)
  let m = i % period
  if (m < 0) m += period
  return m < n ? m : period - m
}

function padOffsets(original: number, size: number): number {
  return Math.floor((size - original) / 2)
}

function check(shape: ImageShape, length: number, size: number, mode: SizeMode, what: string): void {
  checkOption(Number.isInteger(size) && size > 0, `size must be a positive integer, got ${size}`)
  checkOption(mode === 'resize' || mode === 'pad', `mode must be 'resize' or 'pad', got ${String(mode)}`)
  checkOption(
    length === (what === 'to' ? shape.height * shape.width : size * size),
    what === 'to'
      ? `expected ${shape.height}×${shape.width} = ${shape.height * shape.width} pixels, got ${length}`
      : `expected ${size}×${size} = ${size * size} model-size pixels, got ${length}`,
  )
  if (mode === 'pad') {
    checkOption(
      shape.height <= size && shape.width <= size,
      `pad mode cannot fit ${shape.height}×${shape.width} into ${size}×${size}; use mode 'resize' or a larger size`,
    )
  }
}

/**
 * Brings one image or mask from its own size (101 × 101 for TGS) to the
 * model's square size, by bilinear resize or by reflect padding.
 * {@link fromModelSize} is the inverse.
 *
 * @param pixels - row-major values, `shape.height × shape.width`
 * @param shape - the original size
 * @param options - `size` (128), `mode` ('resize' | 'pad'), `kind` ('image' | 'mask')
 * @returns `size × size` values: Float32Array for images, 0/1 Uint8Array for masks
 * @example
 * ```ts
 * const x = toModelSize(sample.image, { height: 101, width: 101 }, { size: 128, mode: 'pad' })
 * const y = toModelSize(sample.mask, { height: 101, width: 101 }, { size: 128, mode: 'pad', kind: 'mask' })
 * ```
 */
export function toModelSize(pixels: ArrayLike<number>, shape: ImageShape, options: ModelSizeOptions & { kind: 'mask' }): Uint8Array
export function toModelSize(pixels: ArrayLike<number>, shape: ImageShape, options?: ModelSizeOptions & { kind?: 'image' }): Float32Array
export function toModelSize(pixels: ArrayLike<number>, shape: ImageShape, options?: ModelSizeOptions): Float32Array | Uint8Array
export function toModelSize(pixels: ArrayLike<number>, shape: ImageShape, options: ModelSizeOptions = {}): Float32Array | Uint8Array {
  const size = options.size ?? 128
  const mode = options.mode ?? 'resize'
  const mask = options.kind === 'mask'
  check(shape, pixels.length, size, mode, 'to')
  if (mode === 'resize') {
    const out = resizeBilinear(pixels, shape, { height: size, width: size })
    return mask ? threshold(out) : out
  }
  const top = padOffsets(shape.height, size)
  const left = padOffsets(shape.width, size)
  const out = mask ? new Uint8Array(size * size) : new Float32Array(size * size)
  const cols = new Int32Array(size)
  for (let x = 0; x < size; x++) cols[x] = reflectIndex(x - left, shape.width)
  for (let y = 0; y < size; y++) {
    const src = reflectIndex(y - top, shape.height) * shape.width
    const row = y * size
    if (mask) for (let x = 0; x < size; x++) out[row + x] = pixels[src + cols[x]!] !== 0 ? 1 : 0
    else for (let x = 0; x < size; x++) out[row + x] = pixels[src + cols[x]!]!
  }
  return out
}

/**
 * The inverse of {@link toModelSize}: brings a model-size prediction (or mask)
 * back to the original size, by bilinear resize or by cropping the padding.
 *
 * @param pixels - `size × size` row-major values (probabilities, logits or a 0/1 mask)
 * @param shape - the original size to return to (101 × 101 for TGS)
 * @param options - the same `size` and `mode` as used going in; `kind: 'mask'` thresholds at 0.5
 * @returns `shape.height × shape.width` values: Float32Array, or 0/1 Uint8Array for masks
 * @example
 * ```ts
 * const probabilities101 = fromModelSize(prediction128, { height: 101, width: 101 }, { size: 128, mode: 'pad' })
 * ```
 */
export function fromModelSize(pixels: ArrayLike<number>, shape: ImageShape, options: ModelSizeOptions & { kind: 'mask' }): Uint8Array
export function fromModelSize(pixels: ArrayLike<number>, shape: ImageShape, options?: ModelSizeOptions & { kind?: 'image' }): Float32Array
export function fromModelSize(pixels: ArrayLike<number>, shape: ImageShape, options?: ModelSizeOptions): Float32Array | Uint8Array
export function fromModelSize(pixels: ArrayLike<number>, shape: ImageShape, options: ModelSizeOptions = {}): Float32Array | Uint8Array {
  const size = options.size ?? 128
  const mode = options.mode ?? 'resize'
  const mask = options.kind === 'mask'
  check(shape, pixels.length, size, mode, 'from')
  if (mode === 'resize') {
    const out = resizeBilinear(pixels, { height: size, width: size }, shape)
    return mask ? threshold(out) : out
  }
  const top = padOffsets(shape.height, size)
  const left = padOffsets(shape.width, size)
  const out = mask ? new Uint8Array(shape.height * shape.width) : new Float32Array(shape.height * shape.width)
  for (let y = 0; y < shape.height; y++) {
    const src = (y + top) * size + left
    const row = y * shape.width
    if (mask) for (let x = 0; x < shape.width; x++) out[row + x] = pixels[src + x]! >= 0.5 ? 1 : 0
    else for (let x = 0; x < shape.width; x++) out[row + x] = pixels[src + x]!
  }
  return out
}

function threshold(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = values[i]! >= 0.5 ? 1 : 0
  return out
}
