import { RleError } from './errors'
import { type MaskShape, type RleOptions, pixelCount, pixelOrder } from './shape'

/**
 * Run-length encodes a binary mask the Kaggle way: space-separated `start length` pairs, pixels numbered
 * from 1, runs sorted and never touching. An empty mask encodes as the empty string.
 *
 * @param mask - height × width values, row-major (like image pixels); any non-zero value is foreground
 * @param shape - the mask's height and width
 * @param options - `order`: how pixels are numbered, `'column-major'` (Kaggle TGS, the default) or `'row-major'`
 * @returns the RLE string, e.g. `'1 3 10 5'`
 * @throws {@link RleError} `MASK_SIZE_MISMATCH` when `mask.length` is not height × width; `INVALID_SHAPE`, `INVALID_ORDER`
 *
 * @example
 * ```ts
 * import { encode } from '@unet/rle'
 * // 2 × 3 mask, row-major:  1 1 0
 * //                         1 0 0
 * encode([1, 1, 0, 1, 0, 0], { height: 2, width: 3 }) // '1 3'  (column-major: pixels 1, 2, 3 are on)
 * encode([1, 1, 0, 1, 0, 0], { height: 2, width: 3 }, { order: 'row-major' }) // '1 2 4 1'
 * ```
 */
export function encode(mask: ArrayLike<number>, shape: MaskShape, options: RleOptions = {}): string {
  const n = pixelCount(shape)
  const order = pixelOrder(options.order)
  const length = mask?.length
  if (length !== n) {
    throw new RleError(
      'MASK_SIZE_MISMATCH',
      `Cannot encode a mask of ${String(length)} values as ${shape.height}×${shape.width} = ${n} pixels: ` +
        `pass the mask row-major with exactly height × width values, or fix the shape.`,
    )
  }
  let out = ''
  // 0-based position (in RLE pixel order) where the current run began; -1 outside a run.
  let runStart = -1
  if (order === 'row-major') {
    for (let p = 0; p < n; p++) {
      if (mask[p] !== 0) {
        if (runStart < 0) runStart = p
      } else if (runStart >= 0) {
        out += (out === '' ? '' : ' ') + (runStart + 1) + ' ' + (p - runStart)
        runStart = -1
      }
    }
  } else {
    const { width } = shape
    let p = 0
    for (let col = 0; col < width; col++) {
      for (let i = col; i < n; i += width, p++) {
        if (mask[i] !== 0) {
          if (runStart < 0) runStart = p
        } else if (runStart >= 0) {
          out += (out === '' ? '' : ' ') + (runStart + 1) + ' ' + (p - runStart)
          runStart = -1
        }
      }
    }
  }
  if (runStart >= 0) out += (out === '' ? '' : ' ') + (runStart + 1) + ' ' + (n - runStart)
  return out
}
