// Masks from probability maps, and what the page draws and downloads from them. Pure: no DOM.
import { encode } from '@unet/rle'
import type { RunSpec } from './run'

/**
 * The binary mask at a threshold: 1 where the probability is above it, as `unet predict` does.
 *
 * @param probabilities - values in [0, 1]
 * @param threshold - the cut
 * @param out - optional buffer to reuse
 * @returns 0/1 bytes and how many are 1
 */
export function maskAt(probabilities: Float32Array, threshold: number, out = new Uint8Array(probabilities.length)): { mask: Uint8Array; count: number } {
  let count = 0
  for (let i = 0; i < probabilities.length; i++) {
    const on = probabilities[i]! > threshold ? 1 : 0
    out[i] = on
    count += on
  }
  return { mask: out, count }
}

/** How many probabilities are above the threshold (the mask's pixel count, without building it). */
export function countAbove(probabilities: Float32Array, threshold: number): number {
  let count = 0
  for (let i = 0; i < probabilities.length; i++) if (probabilities[i]! > threshold) count++
  return count
}

/** The id a file gets in the run's submission convention: its name without the extension, plus `rle.idSuffix`. */
export function submissionId(fileName: string, run: Pick<RunSpec, 'rle'>): string {
  const stem = fileName.replace(/\.[^./\\]+$/, '')
  return `${stem}${run.rle.idSuffix}`
}

/**
 * One image's mask as RLE in the run's pixel order (run.json `rle.order`).
 *
 * @param mask - 0/1 bytes, row-major
 * @returns the Kaggle RLE string ('' for an empty mask)
 */
export function maskRle(mask: Uint8Array, size: { width: number; height: number }, run: Pick<RunSpec, 'rle'>): string {
  return encode(mask, { height: size.height, width: size.width }, { order: run.rle.order })
}

// Viridis, sampled at 9 points and interpolated: readable for colour-blind eyes and in greyscale print.
const VIRIDIS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
]
/** 256 RGB entries of the probability colour scale. */
export const PROBABILITY_COLOURS: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3)
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (VIRIDIS.length - 1)
    const k = Math.min(Math.floor(t), VIRIDIS.length - 2)
    const f = t - k
    for (let c = 0; c < 3; c++) lut[3 * i + c] = Math.round(VIRIDIS[k]![c]! * (1 - f) + VIRIDIS[k + 1]![c]! * f)
  }
  return lut
})()

/** The overlay colour of mask pixels (RGB) and its opacity. */
export const MASK_COLOUR = [255, 0, 170] as const
export const MASK_ALPHA = 0.5

/**
 * Paints the RGBA pixels of a `view`-sized layer of a `size`-sized probability map, sampling the nearest
 * source pixel: 'mask' paints mask pixels in the mask colour (half opaque) and leaves the rest transparent,
 * to be drawn over the image; 'probability' paints the colour scale, opaque.
 */
export function paintView(
  out: Uint8ClampedArray,
  view: { width: number; height: number },
  probabilities: Float32Array,
  size: { width: number; height: number },
  mode: 'mask' | 'probability',
  threshold: number,
): void {
  const sx = size.width / view.width
  const sy = size.height / view.height
  const [mr, mg, mb] = MASK_COLOUR
  const alpha = Math.round(MASK_ALPHA * 255)
  const cols = new Int32Array(view.width)
  for (let x = 0; x < view.width; x++) cols[x] = Math.min(size.width - 1, Math.floor((x + 0.5) * sx))
  for (let y = 0; y < view.height; y++) {
    const row = Math.min(size.height - 1, Math.floor((y + 0.5) * sy)) * size.width
    for (let x = 0; x < view.width; x++) {
      const p = probabilities[row + cols[x]!]!
      const o = 4 * (y * view.width + x)
      if (mode === 'probability') {
        const k = 3 * Math.round(Math.min(1, Math.max(0, p)) * 255)
        out[o] = PROBABILITY_COLOURS[k]!
        out[o + 1] = PROBABILITY_COLOURS[k + 1]!
        out[o + 2] = PROBABILITY_COLOURS[k + 2]!
        out[o + 3] = 255
      } else if (p > threshold) {
        out[o] = mr
        out[o + 1] = mg
        out[o + 2] = mb
        out[o + 3] = alpha
      } else {
        out[o + 3] = 0
      }
    }
  }
}
