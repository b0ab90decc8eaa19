/**
 * What went wrong while reading or preparing TGS data. Each code names one
 * kind of problem so callers can branch on it without parsing messages.
 */
export type TgsDataErrorCode =
  | 'SOURCE_NOT_FOUND'
  | 'NOT_A_TGS_DATASET'
  | 'ZIP_ERROR'
  | 'CORRUPT_PNG'
  | 'WRONG_SIZE'
  | 'IMAGE_WITHOUT_MASK'
  | 'MASK_WITHOUT_IMAGE'
  | 'CSV_MASK_MISMATCH'
  | 'MISSING_DEPTH'
  | 'DUPLICATE_ID'
  | 'BAD_CSV'
  | 'NO_SAMPLES'
  | 'BAD_OPTION'

/**
 * The one error class of `@unet/data-tgs`. The message says what was wrong,
 * where (file, line, id) and what to do; `code` says which kind of problem it is.
 *
 * @example
 * ```ts
 * try { await readTgsDataset('/data/tgs') }
 * catch (e) { if (e instanceof TgsDataError && e.code === 'MISSING_DEPTH') console.log(e.message) }
 * ```
 */
export class TgsDataError extends Error {
  override readonly name = 'TgsDataError'
  /** Which kind of problem this is. */
  readonly code: TgsDataErrorCode
  /** The file the problem was found in, when there is one. */
  readonly file: string | undefined

  /**
   * @param code - the kind of problem
   * @param message - what was wrong, where, and what to do
   * @param options - `cause` (the underlying error) and `file`
   */
  constructor(code: TgsDataErrorCode, message: string, options: { cause?: unknown; file?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.file = options.file
  }
}

/** Throws a `BAD_OPTION` error unless `ok`. */
export function checkOption(ok: boolean, message: string): asserts ok {
  if (!ok) throw new TgsDataError('BAD_OPTION', message)
}
