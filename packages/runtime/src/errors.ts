/** What went wrong when choosing or starting a backend. */
export type BackendErrorCode = 'BACKEND_UNKNOWN' | 'BACKEND_UNAVAILABLE' | 'BACKEND_INIT_FAILED' | 'BACKEND_OPTIONS_INVALID'

/**
 * Thrown by {@link initBackend} when the backend asked for (by option or by `UNET_BACKEND`) is unknown,
 * not installed, or fails to start. Auto-selection never throws it for an absent optional backend.
 *
 * @example
 * ```ts
 * try { await initBackend({ backend: 'tensorflow' }) } catch (e) { if (e instanceof BackendError) console.log(e.code) }
 * ```
 */
export class BackendError extends Error {
  override readonly name = 'BackendError'
  /** A stable code to branch on. */
  readonly code: BackendErrorCode

  /**
   * @param code - what kind of failure
   * @param message - what was wrong, where, and what to do
   * @param options - the underlying error, if any
   */
  constructor(code: BackendErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** What went wrong when saving or loading model files. */
export type ModelFileErrorCode =
  | 'MODEL_JSON_MISSING'
  | 'MODEL_JSON_INVALID'
  | 'WEIGHTS_MISSING'
  | 'WEIGHTS_SIZE_MISMATCH'
  | 'WEIGHTS_CHECKSUM_MISMATCH'
  | 'MODEL_WEIGHTS_MISMATCH'
  | 'SAVE_FAILED'

/**
 * Thrown by {@link saveModel} and {@link loadModel}. `file` names the file at fault.
 *
 * @example
 * ```ts
 * try { await loadModel('runs/1/model') } catch (e) { if (e instanceof ModelFileError) console.log(e.code, e.file) }
 * ```
 */
export class ModelFileError extends Error {
  override readonly name = 'ModelFileError'
  /** A stable code to branch on. */
  readonly code: ModelFileErrorCode
  /** The file (or folder) the error is about. */
  readonly file: string

  /**
   * @param code - what kind of failure
   * @param file - the file at fault
   * @param message - what was wrong and what to do
   * @param options - the underlying error, if any
   */
  constructor(code: ModelFileErrorCode, file: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.file = file
  }
}

/** What went wrong when building a predict-only model. */
export type InferenceModelErrorCode = 'MODEL_UNSUPPORTED'

/**
 * Thrown by {@link createInferenceModel} and {@link inferencePlan} for a model they cannot read.
 *
 * @example
 * ```ts
 * try { await createInferenceModel(model) } catch (e) { if (e instanceof InferenceModelError) console.log(e.code) }
 * ```
 */
export class InferenceModelError extends Error {
  override readonly name = 'InferenceModelError'
  /** A stable code to branch on. */
  readonly code: InferenceModelErrorCode

  /**
   * @param code - what kind of failure
   * @param message - what was wrong, where, and what to do
   * @param options - the underlying error, if any
   */
  constructor(code: InferenceModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
