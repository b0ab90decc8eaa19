/** What went wrong, as a stable string a caller can branch on. */
export type VggErrorCode =
  | 'INVALID_OPTION'
  | 'UNKNOWN_LAYER'
  | 'FILE_NOT_FOUND'
  | 'BAD_FORMAT'
  | 'MISSING_LAYER'
  | 'SHAPE_MISMATCH'

/**
 * Thrown by `createVggUnet`, `freezeVggEncoder`, `vggPreprocess` and `loadVggWeights` when an option
 * or a weights file does not fit a VGG-16 U-Net. The message says what was wrong, where, and what to do.
 *
 * @example
 * ```ts
 * try {
 *   await loadVggWeights(model, 'weights.h5')
 * } catch (error) {
 *   if (error instanceof VggError && error.code === 'SHAPE_MISMATCH') console.error(error.message)
 * }
 * ```
 */
export class VggError extends Error {
  override readonly name = 'VggError'
  /** The kind of failure. */
  readonly code: VggErrorCode

  /**
   * @param code - the kind of failure
   * @param message - what was wrong, where, and what to do
   * @param options - `cause`: the underlying error, if any
   */
  constructor(code: VggErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
