/**
 * What went wrong in a {@link TrainError}.
 *
 * - `BAD_OPTION`: an option of `fit` (or a name looked up in one of this package's declarations) is invalid.
 * - `NO_CHECKPOINT`: a checkpoint to resume from or load is missing or unreadable.
 * - `CHECKPOINT_WRITE`: a checkpoint could not be written (disk full, permissions).
 * - `DATA`: the data handed to `fit` is inconsistent (batch of the wrong size, no images).
 */
export type TrainErrorCode = 'BAD_OPTION' | 'NO_CHECKPOINT' | 'CHECKPOINT_WRITE' | 'DATA'

/**
 * The error @unet/train throws on purpose; the message says what was wrong, where, and what to do.
 *
 * @example
 * ```ts
 * import { TrainError } from '@unet/train'
 * try { resolveMonitor('val_acc') } catch (e) { if (e instanceof TrainError) console.error(e.code, e.message) }
 * ```
 */
export class TrainError extends Error {
  override readonly name = 'TrainError'
  /** A stable code for scripts. */
  readonly code: TrainErrorCode

  /**
   * @param code - what kind of problem it is
   * @param message - what, where, what to do
   * @param options - the underlying error
   */
  constructor(code: TrainErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
