/**
 * What went wrong in a {@link MetricsError}.
 *
 * - `LENGTH_MISMATCH`: a prediction and its truth hold different numbers of pixels.
 * - `COUNT_MISMATCH`: the lists of predictions and truths differ in length.
 * - `EMPTY_INPUT`: a dataset score over no images.
 * - `INVALID_THRESHOLD`: a threshold that is not a finite number, or an empty threshold list.
 * - `INVALID_COUNTS`: confusion counts that are not non-negative integers.
 */
export type MetricsErrorCode = 'LENGTH_MISMATCH' | 'COUNT_MISMATCH' | 'EMPTY_INPUT' | 'INVALID_THRESHOLD' | 'INVALID_COUNTS'

/**
 * Thrown by the metrics when their inputs cannot be scored. `code` says why; `index` says which image, when
 * the problem is in one image of a list.
 *
 * @example
 * ```ts
 * import { iou, MetricsError } from '@unet/metrics'
 * try {
 *   iou([1, 0, 1], [1, 0])
 * } catch (error) {
 *   if (error instanceof MetricsError) console.log(error.code) // 'LENGTH_MISMATCH'
 * }
 * ```
 */
export class MetricsError extends Error {
  override readonly name = 'MetricsError'
  /** Why the inputs cannot be scored. */
  readonly code: MetricsErrorCode
  /** 0-based index of the offending image in a list, when there is one. */
  readonly index: number | undefined

  /**
   * @param code - why the inputs cannot be scored
   * @param message - what was wrong, where, and what to do about it
   * @param details - the image index and the underlying cause
   */
  constructor(code: MetricsErrorCode, message: string, details: { index?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.index = details.index
  }
}
