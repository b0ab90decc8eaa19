/** What went wrong in a file write. */
export type FilesErrorCode =
  | 'NO_FOLDER' // the folder that should hold the file does not exist
  | 'NOT_WRITABLE' // permissions or a read-only file system
  | 'DISK_FULL' // ENOSPC / EDQUOT
  | 'IS_FOLDER' // the path names a folder
  | 'WRITE_FAILED' // anything else

/**
 * A file write that failed. The message names the path, the cause in words, and what to do; `cause` holds the
 * system error. Nothing half-written is left behind at the path when this is thrown.
 *
 * @example
 * ```ts
 * try { await writeFileAtomic('/read-only/x.csv', 'a') } catch (e) { if (e instanceof FilesError) console.error(e.code) }
 * ```
 */
export class FilesError extends Error {
  override readonly name = 'FilesError'
  /** Which kind of failure. */
  readonly code: FilesErrorCode
  /** The path that could not be written. */
  readonly path: string

  constructor(code: FilesErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.path = path
  }
}

/**
 * Turns a system error met while writing `path` into a {@link FilesError} whose message says what to do.
 *
 * @param path - the file (or folder) being written
 * @param folder - the folder it sits in
 * @param error - what node:fs threw
 * @returns the error to throw
 */
export function describeWriteError(path: string, folder: string, error: unknown): FilesError {
  if (error instanceof FilesError) return error
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const reason = error instanceof Error ? error.message : String(error)
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new FilesError('NO_FOLDER', path, `cannot write ${path}: the folder ${folder} does not exist; create it or choose another path`, { cause: error })
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new FilesError('NOT_WRITABLE', path, `cannot write ${path}: ${folder} is not writable (${code}); choose a folder you can write to`, { cause: error })
    case 'ENOSPC':
    case 'EDQUOT':
      return new FilesError('DISK_FULL', path, `cannot write ${path}: the disk is full (${code}); free some space and run again`, { cause: error })
    case 'EISDIR':
      return new FilesError('IS_FOLDER', path, `cannot write ${path}: it is a folder; give a file name`, { cause: error })
    default:
      return new FilesError('WRITE_FAILED', path, `cannot write ${path}: ${reason}`, { cause: error })
  }
}
