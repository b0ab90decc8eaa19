/** What was wrong with the options given to {@link createUnet} or a block. */
export type UnetOptionErrorCode = 'INVALID_OPTION' | 'INPUT_NOT_DIVISIBLE'

/**
 * Thrown when a U-Net or one of its blocks is asked for with options it cannot be built from.
 * The message names the option, the value given, and the valid range (or, for an input size the
 * pooling cannot halve `depth` times, the nearest padded size that would work).
 *
 * @example
 * ```ts
 * try {
 *   createUnet({ inputShape: [101, 101, 1] })
 * } catch (error) {
 *   if (error instanceof UnetOptionError && error.code === 'INPUT_NOT_DIVISIBLE') console.log(error.message)
 * }
 * ```
 */
export class UnetOptionError extends Error {
  override readonly name = 'UnetOptionError'
  /** Machine-readable reason. */
  readonly code: UnetOptionErrorCode
  /** The option at fault, e.g. `'depth'` or `'inputShape'`. */
  readonly option: string

  /**
   * @param code - machine-readable reason
   * @param option - the option at fault
   * @param message - what was wrong and what to do
   * @param options - standard error options (`cause`)
   */
  constructor(code: UnetOptionErrorCode, option: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.option = option
  }
}
