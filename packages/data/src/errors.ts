/**
 * What went wrong while reading, preparing, augmenting or batching data. Each
 * code names one kind of problem so callers can branch on it without parsing messages.
 */
export type DataErrorCode =
  | 'SOURCE_NOT_FOUND'
  | 'UNKNOWN_LAYOUT'
  | 'ZIP_ERROR'
  | 'SYMLINK_LOOP'
  | 'CORRUPT_IMAGE'
  | 'UNSUPPORTED_FORMAT'
  | 'SIZE_MISMATCH'
  | 'WRONG_SIZE'
  | 'NON_BINARY_MASK'
  | 'IMAGE_WITHOUT_MASK'
  | 'MASK_WITHOUT_IMAGE'
  | 'CSV_MASK_MISMATCH'
  | 'DUPLICATE_ID'
  | 'BAD_CSV'
  | 'EMPTY_FOLDER'
  | 'NO_SAMPLES'
  | 'BAD_FILES'
  | 'UNKNOWN_AUGMENTATION'
  | 'UNKNOWN_PARAMETER'
  | 'BAD_OPTION'

/** A file (or id) that could not be used, and why: what readers list in `report.skipped`. */
export interface SkippedFile {
  /** The file, as a path or `archive.zip:inner/path`. */
  file: string
  /** What was wrong and what to do, in words. */
  reason: string
  /** The kind of problem. */
  code: DataErrorCode
  /** The sample id, when the problem belongs to one. */
  id?: string
}

/**
 * Throws one `BAD_FILES` error naming every bad file (the first ten in the
 * message, all of them in `problems`), or does nothing when there are none.
 *
 * @param problems - the bad files
 * @param where - the dataset, for the message
 * @param hint - what the user can do to go on anyway
 * @returns nothing
 * @example
 * ```ts
 * throwIfBadFiles(report.skipped, '/data/cars', 'pass { onBadFile: "skip" } (CLI: --skip-bad) to go on without them')
 * ```
 */
export function throwIfBadFiles(problems: readonly SkippedFile[], where: string, hint: string): void {
  if (problems.length === 0) return
  const list = problems
    .slice(0, 10)
    .map((p) => `  ${p.file}: ${p.reason}`)
    .join('\n')
  const more = problems.length > 10 ? `\n  … and ${problems.length - 10} more` : ''
  throw new DataError('BAD_FILES', `${where}: ${problems.length} file(s) cannot be used:\n${list}${more}\nFix or remove them, or ${hint}.`, {
    file: problems[0]!.file,
    problems,
  })
}

/**
 * The one error class of `@unet/data`. The message says what was wrong, where
 * (file, line, id) and what to do; `code` says which kind of problem it is.
 *
 * @example
 * ```ts
 * try { await readDataset('/data/cars') }
 * catch (e) { if (e instanceof DataError && e.code === 'BAD_FILES') console.log(e.message) }
 * ```
 */
export class DataError extends Error {
  override readonly name = 'DataError'
  /** Which kind of problem this is. */
  readonly code: DataErrorCode
  /** The file the problem was found in, when there is one. */
  readonly file: string | undefined
  /** With `BAD_FILES`: every file that could not be used, and why. */
  readonly problems: readonly SkippedFile[]

  /**
   * @param code - the kind of problem
   * @param message - what was wrong, where, and what to do
   * @param options - `cause` (the underlying error), `file`, and `problems` (all bad files, for `BAD_FILES`)
   */
  constructor(code: DataErrorCode, message: string, options: { cause?: unknown; file?: string; problems?: readonly SkippedFile[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.file = options.file
    this.problems = options.problems ?? []
  }
}

/** Throws a `BAD_OPTION` error unless `ok`. */
export function checkOption(ok: boolean, message: string): asserts ok {
  if (!ok) throw new DataError('BAD_OPTION', message)
}
