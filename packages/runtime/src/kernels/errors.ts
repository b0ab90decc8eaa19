/** Codes of {@link WasmKernelError}. */
export type WasmKernelErrorCode = 'KERNEL_UNSUPPORTED'

/**
 * A wasm training kernel was asked for a case it (and the stock kernel) cannot compute, such as NCHW data.
 *
 * @example
 * ```ts
 * try { model.fit(xs, ys) } catch (e) { if (e instanceof WasmKernelError) console.log(e.code) }
 * ```
 */
export class WasmKernelError extends Error {
  override readonly name = 'WasmKernelError'
  /** A stable code to branch on. */
  readonly code: WasmKernelErrorCode

  /**
   * @param code - what kind of failure
   * @param message - what was wrong, in which kernel, and what to do
   * @param options - the underlying error, if any
   */
  constructor(code: WasmKernelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
