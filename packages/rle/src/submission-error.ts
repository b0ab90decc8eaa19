/**
 * What went wrong in a {@link SubmissionError}.
 *
 * - `INVALID_HEADER`: the first line is not the expected header (`id,rle_mask` by default), or the file is empty.
 * - `WRONG_FIELD_COUNT`: a line does not hold exactly two fields.
 * - `BAD_QUOTE`: a double quote where RFC 4180 allows none.
 * - `UNTERMINATED_QUOTE`: a quoted field that never closes.
 * - `INVALID_UTF8`: the bytes of a line are not valid UTF-8 (ids would silently become U+FFFD).
 * - `INVALID_ID`: an id that is empty, not a string, padded with spaces, holds control characters, or fails `idPattern`.
 * - `DUPLICATE_ID`: an id seen before in the same file.
 * - `INVALID_RLE`: an RLE field that {@link decode} would refuse (the `cause` is the {@link RleError}).
 * - `INVALID_ROW`: a row to write that is not `{ id: string, rleMask: string }`.
 * - `INVALID_TARGET`: `writeSubmission` got something it cannot write to.
 * - `READ_FAILED` / `WRITE_FAILED`: the file system refused (the `cause` is the system error).
 */
export type SubmissionErrorCode =
  | 'INVALID_HEADER'
  | 'WRONG_FIELD_COUNT'
  | 'BAD_QUOTE'
  | 'UNTERMINATED_QUOTE'
  | 'INVALID_UTF8'
  | 'INVALID_ID'
  | 'DUPLICATE_ID'
  | 'INVALID_RLE'
  | 'INVALID_ROW'
  | 'INVALID_TARGET'
  | 'READ_FAILED'
  | 'WRITE_FAILED'

/** Where in a submission a problem sits. */
export interface SubmissionErrorDetails {
  /** 1-based line of the CSV text (when reading) or 1-based row number, header excluded (when writing). */
  line?: number
  /** The row's id, when known. */
  id?: string
  /** The underlying error. */
  cause?: unknown
}

/**
 * Thrown when a submission CSV cannot be read or written. `code` says which rule was broken; `line` and `id`
 * say where.
 *
 * @example
 * ```ts
 * import { parseSubmission, SubmissionError } from '@unet/rle'
 * try {
 *   parseSubmission('id,rle_mask\na,1 2\na,3 4\n')
 * } catch (error) {
 *   if (error instanceof SubmissionError) console.log(error.code, error.line) // 'DUPLICATE_ID' 3
 * }
 * ```
 */
export class SubmissionError extends Error {
  override readonly name = 'SubmissionError'
  /** Which rule was broken. */
  readonly code: SubmissionErrorCode
  /** 1-based line (reading) or row (writing), when known. */
  readonly line: number | undefined
  /** The row's id, when known. */
  readonly id: string | undefined

  /**
   * @param code - which rule was broken
   * @param message - what was wrong, where, and what to do about it
   * @param details - line, id and cause
   */
  constructor(code: SubmissionErrorCode, message: string, details: SubmissionErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.line = details.line
    this.id = details.id
  }
}
