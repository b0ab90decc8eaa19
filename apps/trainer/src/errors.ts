/** What went wrong, as a stable string a script can switch on. */
export type TrainerErrorCode =
  | 'BAD_FLAG'
  | 'BAD_CONFIG'
  | 'NO_DATA'
  | 'NO_RUN'
  | 'NO_CHECKPOINT'
  | 'RESUME_MISMATCH'
  | 'WRITE_FAILED'
  | 'BACKEND'
  | 'BAD_DATA'

/**
 * The one error type the `unet` command raises on purpose. The CLI prints its
 * message as one line and exits non-zero; anything else is a bug and is shown
 * with its stack.
 *
 * @example
 * ```ts
 * throw new TrainerError('BAD_FLAG', '--epochs must be a positive integer, got "x"; pass e.g. --epochs 10')
 * ```
 */
export class TrainerError extends Error {
  override readonly name = 'TrainerError'
  /** A stable code for scripts. */
  readonly code: TrainerErrorCode
  /** One line per problem, when there were several (each is also a line of the message). */
  readonly problems: readonly string[]

  /**
   * @param code - what kind of problem it is
   * @param message - what was wrong, where, and what to do
   * @param options - the underlying error, if any
   */
  constructor(code: TrainerErrorCode, message: string, options?: { cause?: unknown; problems?: readonly string[] }) {
    super(message, options)
    this.code = code
    this.problems = options?.problems ?? [message]
  }
}
