import { DataError, type DataErrorCode } from '@unet/data'

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
  | 'SYMLINK_LOOP'

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
  /** When several files could not be used: every one of them (the read stopped after listing them all). */
  readonly problems: ReadonlyArray<{ code: TgsDataErrorCode; id?: string; file?: string; message: string }>

  /**
   * @param code - the kind of problem
   * @param message - what was wrong, where, and what to do
   * @param options - `cause` (the underlying error), `file`, and `problems` (every bad file)
   */
  constructor(
    code: TgsDataErrorCode,
    message: string,
    options: { cause?: unknown; file?: string; problems?: ReadonlyArray<{ code: TgsDataErrorCode; id?: string; file?: string; message: string }> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.file = options.file
    this.problems = options.problems ?? []
  }
}

/**
 * The same problem as a {@link TgsDataError}: errors of `@unet/data` (source,
 * zip, CSV, decode) keep their code where TGS has one, and their message and file.
 */
export function asTgsError(e: unknown): unknown {
  if (!(e instanceof DataError)) return e
  const codes: Partial<Record<DataErrorCode, TgsDataErrorCode>> = {
    SOURCE_NOT_FOUND: 'SOURCE_NOT_FOUND',
    ZIP_ERROR: 'ZIP_ERROR',
    BAD_CSV: 'BAD_CSV',
    DUPLICATE_ID: 'DUPLICATE_ID',
    CORRUPT_IMAGE: 'CORRUPT_PNG',
    SYMLINK_LOOP: 'SYMLINK_LOOP',
    BAD_OPTION: 'BAD_OPTION',
  }
  const code = codes[e.code]
  return code === undefined ? e : new TgsDataError(code, e.message, { cause: e, ...(e.file !== undefined ? { file: e.file } : {}) })
}

/** Throws a `BAD_OPTION` error unless `ok`. */
export function checkOption(ok: boolean, message: string): asserts ok {
  if (!ok) throw new TgsDataError('BAD_OPTION', message)
}
