/**
 * What went wrong in a {@link PredictError}, as a stable string a caller can switch on.
 *
 * - `RUN_INVALID`: run.json is not valid JSON or a field is missing or wrong.
 * - `RUN_VERSION`: run.json has a format version this package does not know.
 * - `NO_RUN`: the folder has no run.json (not a run, or written by an older `unet train`).
 * - `MODEL_MISMATCH`: the model cannot predict this data (channels, classes, input size).
 * - `BAD_OPTION`: an option's value is out of range (TTA view, threshold, min area, shard).
 * - `UNREADABLE`: an input image cannot be read.
 * - `MERGE_MISMATCH`: submission parts do not cover the test set exactly once.
 */
export type PredictErrorCode = 'RUN_INVALID' | 'RUN_VERSION' | 'NO_RUN' | 'MODEL_MISMATCH' | 'BAD_OPTION' | 'UNREADABLE' | 'MERGE_MISMATCH'

/**
 * Thrown by @unet/predict. `code` says what went wrong, `file` names the file when one is to blame, and the
 * message (one line) says what, where, and what to do.
 *
 * @example
 * ```ts
 * import { parseRunFile, PredictError } from '@unet/predict'
 * try {
 *   parseRunFile('{"format":"unet-run","version":9}', 'runs/a/run.json')
 * } catch (error) {
 *   if (error instanceof PredictError) console.log(error.code) // 'RUN_VERSION'
 * }
 * ```
 */
export class PredictError extends Error {
  override readonly name = 'PredictError'
  /** What went wrong. */
  readonly code: PredictErrorCode
  /** The file to blame, when there is one. */
  readonly file: string | undefined

  /**
   * @param code - what went wrong
   * @param message - one line: what, where, what to do
   * @param options - the file to blame and the underlying error
   */
  constructor(code: PredictErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.file = options.file
  }
}
