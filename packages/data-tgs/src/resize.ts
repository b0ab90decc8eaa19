import { type PrepareSpec, prepareImage, prepareMask, resample, restoreMask, restoreProbabilities } from '@unet/data'
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

/**
 * The `@unet/data` prepare spec of a square TGS model size: what `run.json`
 * records and what `prepareImage` / `restoreProbabilities` take.
 *
 * @param options - `size` (128) and `mode` ('resize' | 'pad')
 * @returns the spec (reflect padding, bilinear)
 * @example
 * ```ts
 * tgsPrepareSpec({ size: 128, mode: 'pad' }) // { width: 128, height: 128, mode: 'pad', pad: 'reflect', interpolation: 'bilinear' }
 * ```
 */
export function tgsPrepareSpec(options: Pick<ModelSizeOptions, 'size' | 'mode'> = {}): PrepareSpec {
  const size = options.size ?? 128
  const mode = options.mode ?? 'resize'
  checkOption(Number.isInteger(size) && size > 0, `size must be a positive integer, got ${size}`)
  checkOption(mode === 'resize' || mode === 'pad', `mode must be 'resize' or 'pad', got ${String(mode)}`)
  return { width: size, height: size, mode, pad: 'reflect', interpolation: 'bilinear' }
}

/**
 * Bilinear resize of one channel, row-major, with half-pixel centres
 * (`@unet/data`'s `resample`).
 *
 * @param input - `from.height × from.width` values
 * @param from - source size
 * @param to - target size
 * @returns `to.height × to.width` values
 * @example
 * ```ts
 * resizeBilinear([0, 1], { height: 1, width: 2 }, { height: 1, width: 4 }) // [0, 0.25, 0.75, 1]
 * ```
 */
export function resizeBilinear(input: ArrayLike<number>, from: ImageShape, to: ImageShape): Float32Array {
  return resample(input, { ...from, channels: 1 }, to, 'bilinear')
}

function checkLength(length: number, height: number, width: number, what: string): void {
  checkOption(length === height * width, `expected ${height}×${width} = ${height * width} ${what}, got ${length}`)
}

/**
 * Brings one grey image or mask from its own size (101 × 101 for TGS) to the
 * model's square size, by bilinear resize or by reflect padding: `@unet/data`'s
 * `prepareImage` / `prepareMask` with {@link tgsPrepareSpec}. {@link fromModelSize} is the inverse.
 *
 * @param pixels - row-major values, `shape.height × shape.width`
 * @param shape - the original size
 * @param options - `size` (128), `mode` ('resize' | 'pad'), `kind` ('image' | 'mask')
 * @returns `size × size` values: Float32Array for images, 0/1 Uint8Array for masks
 * @example
 * ```ts
 * const x = toModelSize(sample.image, { height: 101, width: 101 }, { size: 128, mode: 'pad' })
 * ```
 */
export function toModelSize(pixels: ArrayLike<number>, shape: ImageShape, options: ModelSizeOptions & { kind: 'mask' }): Uint8Array
export function toModelSize(pixels: ArrayLike<number>, shape: ImageShape, options?: ModelSizeOptions & { kind?: 'image' }): Float32Array
export function toModelSize(pixels: ArrayLike<number>, shape: ImageShape, options?: ModelSizeOptions): Float32Array | Uint8Array
export function toModelSize(pixels: ArrayLike<number>, shape: ImageShape, options: ModelSizeOptions = {}): Float32Array | Uint8Array {
  const spec = tgsPrepareSpec(options)
  checkLength(pixels.length, shape.height, shape.width, 'pixels')
  const size = { width: shape.width, height: shape.height }
  if (options.kind === 'mask') return prepareMask(pixels, size, spec)
  const image = pixels instanceof Float32Array ? pixels : Float32Array.from(pixels)
  return prepareImage(image, { ...size, channels: 1 }, spec)
}

/**
 * The inverse of {@link toModelSize}: brings a model-size prediction (or mask)
 * back to the original size, by bilinear resize or by cropping the padding
 * (`@unet/data`'s `restoreProbabilities` / `restoreMask`).
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
  const spec = tgsPrepareSpec(options)
  checkLength(pixels.length, spec.height, spec.width, 'model-size pixels')
  const values = pixels instanceof Float32Array ? pixels : Float32Array.from(pixels)
  const size = { width: shape.width, height: shape.height }
  return options.kind === 'mask' ? restoreMask(values, size, spec) : restoreProbabilities(values, size, spec)
}
