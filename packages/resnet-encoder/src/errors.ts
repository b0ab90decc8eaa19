/** What went wrong, as a stable string a caller can branch on. */
export type ResnetEncoderErrorCode =
  | 'UNKNOWN_ENCODER'
  | 'INVALID_OPTION'
  | 'FILE_NOT_FOUND'
  | 'BAD_FORMAT'
  | 'MISSING_TENSOR'
  | 'EXTRA_TENSOR'
  | 'SHAPE_MISMATCH'
  | 'NOT_AN_ENCODER'

/**
 * Thrown by `createEncoder`, `resnetEncoder` and `loadEncoderWeights` when a name, an option or a weights file
 * does not fit. The message says what was wrong, where (file, tensor), and what to do; `tensor` names the tensor
 * at fault when there is one.
 *
 * @example
 * ```ts
 * try {
 *   await loadEncoderWeights(model, 'resnet34.safetensors')
 * } catch (error) {
 *   if (error instanceof ResnetEncoderError && error.code === 'SHAPE_MISMATCH') console.error(error.tensor)
 * }
 * ```
 */
export class ResnetEncoderError extends Error {
  override readonly name = 'ResnetEncoderError'
  /** The kind of failure. */
  readonly code: ResnetEncoderErrorCode
  /** The tensor (file key) at fault, when one is. */
  readonly tensor: string | undefined

  /**
   * @param code - the kind of failure
   * @param message - what was wrong, where, and what to do
   * @param options - `cause`: the underlying error; `tensor`: the tensor at fault
   */
  constructor(code: ResnetEncoderErrorCode, message: string, options?: { cause?: unknown; tensor?: string }) {
    super(message, options)
    this.code = code
    this.tensor = options?.tensor
  }
}
