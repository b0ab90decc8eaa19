import { randomBytes } from 'node:crypto'
import { constants, statSync } from 'node:fs'
import { access, lstat, mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import { describeWriteError, FilesError } from './errors'

/** Prefix of the temp files {@link writeFileAtomic} leaves behind only when a process dies mid-write. */
export const TEMP_PREFIX = '.unet-tmp-'

/** The path that means standard output. */
export const STDOUT = '-'

/** One piece of a file's content. */
export type Chunk = string | Uint8Array

/** A file's content: all at once, or as chunks that may still be being computed (an async generator). */
export type FileContent = Chunk | Iterable<Chunk> | AsyncIterable<Chunk>

/** Options for {@link writeFileAtomic}. */
export interface WriteFileOptions {
  /** Gzip the content. Default: when the path ends in `.gz` (never for standard output unless set). */
  readonly gzip?: boolean
  /** Create the missing folders above the file. Default `false`: a missing folder is a `NO_FOLDER` error. */
  readonly mkdir?: boolean
}

/** What {@link writeFileAtomic} did. */
export interface WriteFileResult {
  /** The path written (for a symbolic link, the file it points to). */
  readonly path: string
  /** Bytes of content before compression. */
  readonly bytes: number
  /** How it was written: `replaced` (temp file renamed over it), `streamed` (FIFO, device, socket) or `stdout`. */
  readonly mode: 'replaced' | 'streamed' | 'stdout'
}

/**
 * How a path will be written.
 * - `replace`: a regular file or a path that does not exist yet (temp file + rename; readers see old or new)
 * - `stream`: a FIFO, character or block device, or socket, written straight into (renaming over it would destroy it)
 * - `stdout`: `-`
 *
 * @param path - the output path
 * @returns the kind and, for symbolic links, the real path behind them
 * @throws FilesError `IS_FOLDER` when the path is a folder
 * @example
 * ```ts
 * await outputKind('/dev/null') // { kind: 'stream', path: '/dev/null' }
 * ```
 */
export async function outputKind(path: string): Promise<{ kind: 'replace' | 'stream' | 'stdout'; path: string }> {
  if (path === STDOUT) return { kind: 'stdout', path }
  let target = resolve(path)
  let info
  try {
    info = await lstat(target)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return { kind: 'replace', path: target }
    throw describeWriteError(path, dirname(target), error)
  }
  if (info.isSymbolicLink()) {
    // write what the link points to, keeping the link (a dangling link's target is created)
    try {
      target = await realpath(target)
      info = await stat(target)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw describeWriteError(path, dirname(target), error)
      return { kind: 'replace', path: target }
    }
  }
  if (info.isDirectory()) throw new FilesError('IS_FOLDER', path, `cannot write ${path}: it is a folder; give a file name`)
  return { kind: info.isFile() ? 'replace' : 'stream', path: target }
}

function chunksOf(content: FileContent): AsyncIterable<Chunk> | Iterable<Chunk> {
  if (typeof content === 'string' || content instanceof Uint8Array) return [content]
  return content
}

/** A writable that hands each chunk to `write` and waits for it (never ends the underlying target). */
function sinkTo(write: (chunk: Uint8Array) => Promise<void>): Writable {
  return new Writable({
    write(chunk: Uint8Array, _encoding, callback) {
      write(chunk).then(() => callback(), callback)
    },
  })
}

async function pump(content: FileContent, gzip: boolean, sink: Writable): Promise<number> {
  let bytes = 0
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunksOf(content)) {
      const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
      bytes += data.byteLength
      if (data.byteLength > 0) yield data
    }
  }
  const source = Readable.from(counted())
  if (gzip) await pipeline(source, createGzip(), sink)
  else await pipeline(source, sink)
  return bytes
}

function stdoutSink(): Writable {
  return sinkTo(
    (chunk) =>
      new Promise<void>((done, fail) => {
        process.stdout.write(chunk, (error) => (error ? fail(error) : done()))
      }),
  )
}

function handleSink(handle: FileHandle): Writable {
  return sinkTo(async (chunk) => {
    await handle.write(chunk)
  })
}

/**
 * Writes a file so that nothing a user would hate to lose is ever destroyed:
 * - a regular file (or a new path) gets a temp file in the same folder, flushed to disk and renamed over it, so
 *   readers and crashes see the old content or the new, never a torn mix; on any error the temp file is removed
 *   and the old file is untouched;
 * - a FIFO, device or socket is written straight into (a rename would replace the pipe or device itself);
 * - `-` is standard output (left open);
 * - a symbolic link is followed and its target written, the link kept.
 *
 * Content may be a string, bytes, or chunks from a (async) generator, so a 100,000-row submission streams with
 * flat memory. Paths ending in `.gz` are gzipped.
 *
 * @param path - where to write, or `-` for standard output
 * @param content - the bytes, a string (UTF-8), or chunks
 * @param options - gzip, mkdir
 * @returns the path written, the byte count and how it was written
 * @throws FilesError `NO_FOLDER`, `NOT_WRITABLE`, `DISK_FULL`, `IS_FOLDER` or `WRITE_FAILED`, with a message that says what to do
 * @example
 * ```ts
 * import { writeFileAtomic } from '@unet/files'
 * await writeFileAtomic('runs/a/config.json', JSON.stringify({ epochs: 3 }), { mkdir: true })
 * ```
 */
export async function writeFileAtomic(path: string, content: FileContent, options: WriteFileOptions = {}): Promise<WriteFileResult> {
  const { kind, path: target } = await outputKind(path)
  const gzip = options.gzip ?? (kind !== 'stdout' && path.endsWith('.gz'))
  if (kind === 'stdout') {
    try {
      return { path, bytes: await pump(content, gzip, stdoutSink()), mode: 'stdout' }
    } catch (error) {
      throw describeWriteError('standard output', 'standard output', error)
    }
  }
  const folder = dirname(target)
  if (kind === 'stream') {
    let handle: FileHandle | undefined
    try {
      handle = await open(target, 'w')
      const bytes = await pump(content, gzip, handleSink(handle))
      return { path: target, bytes, mode: 'streamed' }
    } catch (error) {
      throw describeWriteError(path, folder, error)
    } finally {
      await handle?.close().catch(() => undefined)
    }
  }
  if (options.mkdir === true) await ensureFolder(folder)
  const temp = join(folder, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}-${basename(target)}`)
  let handle: FileHandle | undefined
  try {
    handle = await open(temp, 'wx')
    const bytes = await pump(content, gzip, handleSink(handle))
    await handle.sync()
    const opened = handle
    handle = undefined
    await opened.close()
    await rename(temp, target)
    await syncDir(folder)
    return { path: target, bytes, mode: 'replaced' }
  } catch (error) {
    await handle?.close().catch(() => undefined)
    await rm(temp, { force: true }).catch(() => undefined)
    throw describeWriteError(path, folder, error)
  }
}

/**
 * Makes sure a folder exists and can be written, creating it (and its parents) when missing.
 *
 * @param dir - the folder
 * @returns once it exists and is writable
 * @throws FilesError `NOT_WRITABLE` (read-only folder or file system), `NO_FOLDER` (a parent is a file), `IS_FOLDER`…
 * @example
 * ```ts
 * await ensureFolder('out/masks')
 * ```
 */
export async function ensureFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
    await access(dir, constants.W_OK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new FilesError('NO_FOLDER', dir, `cannot create the folder ${dir}: a file is in the way; choose another path`, { cause: error })
    }
    throw describeWriteError(dir, nearestExisting(dir), error)
  }
}

function nearestExisting(dir: string): string {
  // for messages only: the folder the user must make writable is the first one that exists
  let current = resolve(dir)
  for (;;) {
    try {
      statSync(current)
      return current
    } catch {
      const parent = dirname(current)
      if (parent === current) return current
      current = parent
    }
  }
}

/**
 * Flushes a folder's entries (the renames into it) to disk. Not every platform can open a folder for this
 * (Windows cannot); there the rename is as durable as the OS makes it.
 *
 * @param dir - the folder
 * @returns once flushed (or when the platform cannot)
 * @example
 * ```ts
 * await syncDir('runs/a')
 * ```
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined)
  }
}
