/** What went wrong inside the kernel, as a stable code a caller can branch on. */
export type KernelErrorCode =
  | 'BAD_CONNECTION_FILE'
  | 'BAD_SIGNATURE'
  | 'BAD_MESSAGE'
  | 'UNSUPPORTED_SCHEME'
  | 'MODULE_NOT_FOUND'
  | 'BAD_DISPLAY_INPUT'
  | 'KERNELSPEC_WRITE_FAILED'

/**
 * An error raised by the kernel itself (not by the code in a cell).
 *
 * @example
 * ```ts
 * try { await readConnectionFile('nope.json') } catch (e) { if (e instanceof KernelError) console.log(e.code) }
 * ```
 */
export class KernelError extends Error {
  override readonly name = 'KernelError'
  /** A stable code for the kind of failure. */
  readonly code: KernelErrorCode

  /**
   * @param code - the kind of failure
   * @param message - what was wrong, where, and what to do
   * @param options - the underlying cause, if any
   */
  constructor(code: KernelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/**
 * Thrown inside a running cell when the user interrupts it (the notebook's stop button,
 * `interrupt_request`, or SIGINT). Shown in the notebook as `KeyboardInterrupt`.
 *
 * @example
 * ```ts
 * try { longTraining() } catch (e) { if (e instanceof KeyboardInterrupt) console.log('stopped') }
 * ```
 */
export class KeyboardInterrupt extends Error {
  override readonly name = 'KeyboardInterrupt'
  /** Always `INTERRUPTED`. */
  readonly code = 'INTERRUPTED' as const
  constructor(message = 'the cell was interrupted; state defined before the interrupt is kept') {
    super(message)
  }
}
