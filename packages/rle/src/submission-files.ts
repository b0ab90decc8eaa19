import type * as NodeFs from 'node:fs'
import {
  type ParseSubmissionOptions,
  type SubmissionChunksOptions,
  type SubmissionRow,
  parseSubmissionChunks,
  submissionChunks,
} from './submission'
import { SubmissionError } from './submission-error'

/** A Node.js writable (a `fs.WriteStream`, `process.stdout`, a socket …): what `writeSubmission` needs of it. */
export interface NodeWritableLike {
  write(chunk: string, callback?: (error?: Error | null) => void): boolean
  once(event: 'drain' | 'error', listener: (...args: unknown[]) => void): unknown
  removeListener(event: 'drain' | 'error', listener: (...args: unknown[]) => void): unknown
  end(callback?: () => void): unknown
}

/**
 * Where `writeSubmission` writes: a Node writable or a web `WritableStream`. To write a file atomically (temp file +
 * rename, FIFOs and devices left intact, `.gz` compressed), give `submissionChunks(rows)` to `writeFileAtomic` of
 * `@unet/files`; this package stays free of dependencies and of file-system writes.
 */
export type SubmissionTarget = NodeWritableLike | WritableStream<string>

/** Options for {@link writeSubmission}. */
export interface WriteSubmissionOptions extends SubmissionChunksOptions {
  /** For streams: end (close) the stream after the last row. Default `false`, so `process.stdout` stays open. */
  readonly end?: boolean
}

/** What {@link writeSubmission} wrote. */
export interface WriteSubmissionResult {
  /** Number of rows written, header excluded. */
  readonly rows: number
}

/**
 * Imports a Node.js built-in only when a file function runs. The specifier is a variable, and the comments tell
 * webpack and Vite to leave the import alone, so browser bundles of this package build without `fs` and the
 * rest of the package (encode, decode, the string and stream functions) works there.
 */
async function nodeModule<T>(name: string): Promise<T> {
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ name)) as T
}

function writeFailed(where: string, error: unknown): SubmissionError {
  if (error instanceof SubmissionError) return error
  const reason = error instanceof Error ? error.message : String(error)
  return new SubmissionError('WRITE_FAILED', `Could not write the submission to ${where}: ${reason}`, { cause: error })
}

async function writeNode(stream: NodeWritableLike, chunks: AsyncIterable<string>, end: boolean): Promise<void> {
  for await (const chunk of chunks) {
    if (!stream.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          stream.removeListener('error', onError)
          resolve()
        }
        const onError = (error: unknown): void => {
          stream.removeListener('drain', onDrain)
          reject(writeFailed('the stream', error))
        }
        stream.once('drain', onDrain)
        stream.once('error', onError)
      })
    }
  }
  if (end) await new Promise<void>((resolve) => stream.end(resolve))
}

async function writeWeb(stream: WritableStream<string>, chunks: AsyncIterable<string>, end: boolean): Promise<void> {
  const writer = stream.getWriter()
  try {
    for await (const chunk of chunks) {
      await writer.ready
      await writer.write(chunk)
    }
    if (end) await writer.close()
  } catch (error) {
    throw writeFailed('the stream', error)
  } finally {
    writer.releaseLock()
  }
}

/**
 * Writes a Kaggle submission CSV (`id,rle_mask`) into a stream, streaming: rows may come from an async generator
 * while predictions are still being made, and memory stays flat however many there are. Rows are checked as
 * {@link formatSubmission} does; the first bad row throws. For a file, use `writeFileAtomic(path,
 * submissionChunks(rows))` from `@unet/files`, which leaves the old file in place when a row is bad.
 *
 * @param target - a Node writable (e.g. `process.stdout`) or a web `WritableStream<string>`
 * @param rows - `{ id, rleMask }` rows, sync or async
 * @param options - as {@link formatSubmission}, plus `chunkSize` and `end` (close a stream target afterwards)
 * @returns how many rows were written
 * @throws {@link SubmissionError} `INVALID_ID`, `DUPLICATE_ID`, `INVALID_RLE`, `INVALID_ROW`, `INVALID_TARGET`, `WRITE_FAILED`
 *
 * @example
 * ```ts
 * import { encode, writeSubmission } from '@unet/rle'
 * async function* rows() {
 *   yield { id: '0a1742c740', rleMask: encode(new Uint8Array(101 * 101), { height: 101, width: 101 }) }
 * }
 * await writeSubmission(process.stdout, rows()) // { rows: 1 }
 * ```
 */
export async function writeSubmission(
  target: SubmissionTarget,
  rows: Iterable<SubmissionRow> | AsyncIterable<SubmissionRow>,
  options: WriteSubmissionOptions = {},
): Promise<WriteSubmissionResult> {
  let count = 0
  async function* counted(): AsyncGenerator<SubmissionRow, void, undefined> {
    for await (const row of rows) {
      yield row
      count++
    }
  }
  const chunks = submissionChunks(counted(), options)
  const end = options.end === true
  if (typeof target === 'string') {
    throw new SubmissionError(
      'INVALID_TARGET',
      `writeSubmission writes to streams, not to the path ${target}: to write a file atomically, use writeFileAtomic(path, submissionChunks(rows)) from @unet/files.`,
    )
  } else if (target !== null && typeof target === 'object' && typeof (target as WritableStream).getWriter === 'function') {
    await writeWeb(target as WritableStream<string>, chunks, end)
  } else if (target !== null && typeof target === 'object' && typeof (target as NodeWritableLike).write === 'function') {
    await writeNode(target as NodeWritableLike, chunks, end)
  } else {
    throw new SubmissionError(
      'INVALID_TARGET',
      `writeSubmission cannot write to ${target === null ? 'null' : typeof target}: pass a file path, a Node writable or a WritableStream.`,
    )
  }
  return { rows: count }
}

/**
 * Reads a submission CSV file row by row without loading it whole, checking everything
 * {@link parseSubmission} checks. Node.js only.
 *
 * @param path - the CSV file
 * @param options - as {@link parseSubmission}; `source` defaults to the path
 * @returns an async iterable of rows in file order
 * @throws {@link SubmissionError} from the iteration: `READ_FAILED` or any `parseSubmission` code, with the line
 *
 * @example
 * ```ts
 * import { decode, streamSubmission } from '@unet/rle'
 * for await (const { id, rleMask } of streamSubmission('submission.csv')) {
 *   const mask = decode(rleMask, { height: 101, width: 101 })
 * }
 * ```
 */
export async function* streamSubmission(
  path: string,
  options: ParseSubmissionOptions = {},
): AsyncGenerator<SubmissionRow, void, undefined> {
  const { createReadStream } = await nodeModule<typeof NodeFs>('node:fs')
  const stream = createReadStream(path)
  try {
    yield* parseSubmissionChunks(readOrFail(stream, path), { ...options, source: options.source ?? path })
  } finally {
    stream.destroy()
  }
}

async function* readOrFail(stream: AsyncIterable<Uint8Array>, path: string): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    for await (const chunk of stream) yield chunk
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new SubmissionError('READ_FAILED', `Could not read the submission ${path}: ${reason}`, { cause: error })
  }
}

/**
 * Reads a whole submission CSV file into rows, checking everything {@link parseSubmission} checks.
 * Node.js only; for very large files prefer {@link streamSubmission}.
 *
 * @param path - the CSV file
 * @param options - as {@link parseSubmission}; `source` defaults to the path
 * @returns the rows in file order
 * @throws {@link SubmissionError} `READ_FAILED` or any `parseSubmission` code, with the line
 *
 * @example
 * ```ts
 * import { readSubmission, TGS_ID_PATTERN } from '@unet/rle'
 * const rows = await readSubmission('submission.csv', { idPattern: TGS_ID_PATTERN, shape: { height: 101, width: 101 } })
 * ```
 */
export async function readSubmission(path: string, options: ParseSubmissionOptions = {}): Promise<SubmissionRow[]> {
  const rows: SubmissionRow[] = []
  for await (const row of streamSubmission(path, options)) rows.push(row)
  return rows
}
