/** What went wrong in {@link WebError}. */
export type WebErrorCode = 'NO_RUN' | 'BAD_RUN' | 'NO_PAGE' | 'LISTEN'

/**
 * An error of `serve` (and so of `unet serve`): the message says what was wrong, where, and what to do.
 *
 * @example
 * ```ts
 * try { await serve({ run: 'runs/none' }) } catch (e) { if (e instanceof WebError && e.code === 'NO_RUN') console.error(e.message) }
 * ```
 */
export class WebError extends Error {
  override readonly name = 'WebError'
  readonly code: WebErrorCode

  constructor(code: WebErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
