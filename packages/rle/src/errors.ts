/**
 * What went wrong in an {@link RleError}, as a stable string a caller can switch on.
 *
 * - `INVALID_SHAPE`: height or width is not a positive integer.
 * - `INVALID_ORDER`: the pixel order is neither `'column-major'` nor `'row-major'`.
 * - `MASK_SIZE_MISMATCH`: the mask handed to `encode` does not hold height × width values.
 * - `MASK_TOO_LARGE`: height × width pixels cannot be held in memory (a wrong or hostile shape).
 * - `NOT_AN_INTEGER`: a token of the RLE string is not a plain decimal integer.
 * - `ODD_TOKEN_COUNT`: the tokens do not pair up into `start length` pairs.
 * - `START_BELOW_ONE`: a run starts before pixel 1 (pixels are numbered from 1).
 * - `LENGTH_BELOW_ONE`: a run is empty or has a negative length.
 * - `RUN_PAST_END`: a run ends after the last pixel of the mask.
 * - `UNSORTED_RUNS`: a run starts before the run written ahead of it.
 * - `OVERLAPPING_RUNS`: a run starts inside the run written ahead of it.
 */
export type RleErrorCode =
  | 'INVALID_SHAPE'
  | 'INVALID_ORDER'
  | 'MASK_SIZE_MISMATCH'
  | 'MASK_TOO_LARGE'
  | 'NOT_AN_INTEGER'
  | 'ODD_TOKEN_COUNT'
  | 'START_BELOW_ONE'
  | 'LENGTH_BELOW_ONE'
  | 'RUN_PAST_END'
  | 'UNSORTED_RUNS'
  | 'OVERLAPPING_RUNS'

/** Where in an RLE string a problem sits. */
export interface RleErrorDetails {
  /** 1-based index of the offending token among the whitespace-separated tokens. */
  token?: number
  /** 0-based character offset of the offending token in the RLE string. */
  offset?: number
  /** The underlying error, if this one wraps another. */
  cause?: unknown
}

/**
 * Thrown by `encode`, `decode` and the submission functions when a mask, a shape or an RLE string is not
 * what it should be. `code` says which rule was broken; `token` and `offset` say where, for RLE strings.
 *
 * @example
 * ```ts
 * import { decode, RleError } from '@unet/rle'
 * try {
 *   decode('3 2 1 1', { height: 2, width: 2 })
 * } catch (error) {
 *   if (error instanceof RleError) console.log(error.code, error.token) // 'UNSORTED_RUNS' 3
 * }
 * ```
 */
export class RleError extends Error {
  override readonly name = 'RleError'
  /** Which rule was broken. */
  readonly code: RleErrorCode
  /** 1-based index of the offending token, when the problem is in an RLE string. */
  readonly token: number | undefined
  /** 0-based character offset of the offending token, when the problem is in an RLE string. */
  readonly offset: number | undefined

  /**
   * @param code - which rule was broken
   * @param message - what was wrong, where, and what to do about it
   * @param details - token position and cause
   */
  constructor(code: RleErrorCode, message: string, details: RleErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.token = details.token
    this.offset = details.offset
  }
}
