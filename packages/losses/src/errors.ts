/** What went wrong in @unet/losses. */
export type LossErrorCode = 'UNKNOWN_LOSS' | 'INVALID_OPTION' | 'SHAPE_MISMATCH' | 'NO_LOSS_RECORDED' | 'NOT_SERIALIZABLE'

/**
 * Thrown by the losses and their registry. The message says what was wrong, where, and what to do
 * (an unknown name lists the valid ones).
 *
 * @example
 * ```ts
 * try {
 *   getLoss('lovasz')
 * } catch (error) {
 *   if (error instanceof LossError && error.code === 'UNKNOWN_LOSS') console.log(error.message)
 * }
 * ```
 */
export class LossError extends Error {
  override readonly name = 'LossError'
  /** Machine-readable reason. */
  readonly code: LossErrorCode

  /**
   * @param code - machine-readable reason
   * @param message - what was wrong and what to do
   * @param options - standard error options (`cause`)
   */
  constructor(code: LossErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
