import { randomBytes } from 'node:crypto'
import { readdir, readFile, rename, rm, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureFolder, outputKind, syncDir, TEMP_PREFIX, writeFileAtomic, type Chunk, type WriteFileResult } from '@unet/files'

/**
 * Files of one output folder (masks, probabilities, overlays, crops) that appear all together or not at all:
 * each is written into a private staging folder inside `dir`, and {@link StagedFolder.commit} moves them into
 * place once the whole run succeeded. A run that stops (unreadable image, Ctrl-C, crash) leaves the folder as it
 * was; the next run removes the stale staging folder.
 *
 * Staged files are private temp files, so they skip the per-file flush of `writeFileAtomic` (100,000 masks
 * would mean 100,000 fsyncs); the commit renames them in and flushes the folder once. An existing FIFO or
 * device in the folder is written into through `writeFileAtomic`, never renamed over.
 */
export class StagedFolder {
  private readonly names: string[] = []

  private constructor(
    /** The output folder. */
    readonly dir: string,
    private readonly stage: string,
  ) {}

  /**
   * Creates (or checks) the output folder and its staging folder.
   *
   * @param dir - the output folder
   * @returns the staged folder
   * @throws FilesError `NOT_WRITABLE`, `NO_FOLDER`… when the folder cannot be written
   */
  static async open(dir: string): Promise<StagedFolder> {
    await ensureFolder(dir)
    await removeStaleStages(dir)
    const stage = join(dir, `${TEMP_PREFIX}stage-${process.pid}-${randomBytes(4).toString('hex')}`)
    await mkdir(stage)
    return new StagedFolder(dir, stage)
  }

  /** Stages one file (a plain name, no folders). */
  async write(name: string, content: Uint8Array | string): Promise<void> {
    await writeFile(join(this.stage, name), content)
    this.names.push(name)
  }

  /** Files staged so far. */
  get count(): number {
    return this.names.length
  }

  /** Moves every staged file into the folder; FIFOs and devices there are written into. */
  async commit(): Promise<void> {
    for (const name of this.names) {
      const dest = join(this.dir, name)
      const staged = join(this.stage, name)
      const { kind } = await outputKind(dest)
      if (kind === 'replace') await rename(staged, dest)
      else await writeFileAtomic(dest, await readFile(staged))
    }
    await rm(this.stage, { recursive: true, force: true })
    await syncDir(this.dir)
  }

  /** Drops what was staged. */
  async abort(): Promise<void> {
    await rm(this.stage, { recursive: true, force: true }).catch(() => undefined)
  }
}

/** Staging folders left by a process that no longer runs. */
async function removeStaleStages(dir: string): Promise<void> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch {
    return
  }
  for (const name of entries) {
    const m = new RegExp(`^${TEMP_PREFIX.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}stage-(\\d+)-`).exec(name)
    if (m === null) continue
    const pid = Number(m[1])
    let alive = pid === process.pid
    if (!alive) {
      try {
        process.kill(pid, 0)
        alive = true
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM'
      }
    }
    if (!alive) await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined)
  }
}

/**
 * A file written as a stream while the run produces it (the submission, boxes.jsonl): items are pushed in, turned
 * into text by `format` and drained by `writeFileAtomic` (temp file + rename for regular files; straight into
 * FIFOs, devices and `-`). At most `limit` items wait in memory; `push` waits while the writer is behind.
 */
export class StreamedFile<T = Chunk> {
  private readonly queue: T[] = []
  private wake: (() => void) | null = null
  private space: (() => void) | null = null
  private closed = false
  private failure: { error: unknown } | null = null
  private writerFailed: { error: unknown } | null = null
  /** Settles when the file is written (or failed). */
  readonly done: Promise<WriteFileResult>

  /**
   * @param path - where to write (`-` for standard output); `.gz` is gzipped
   * @param format - turns the pushed items into chunks of text or bytes (default: they are chunks already)
   * @param limit - items allowed to wait (default 64)
   */
  constructor(
    readonly path: string,
    format?: (items: AsyncIterable<T>) => AsyncIterable<Chunk>,
    private readonly limit = 64,
  ) {
    const items = this.items()
    this.done = writeFileAtomic(path, format ? format(items) : (items as AsyncIterable<unknown> as AsyncIterable<Chunk>), { mkdir: true })
    // seen by the next push (the run stops at once) or when awaited
    this.done.catch((error: unknown) => {
      this.writerFailed = { error }
    })
  }

  private async *items(): AsyncGenerator<T> {
    for (;;) {
      if (this.queue.length > 0) {
        const item = this.queue.shift() as T
        this.space?.()
        this.space = null
        yield item
        continue
      }
      if (this.failure) throw this.failure.error
      if (this.closed) return
      await new Promise<void>((resolve) => (this.wake = resolve))
      this.wake = null
    }
  }

  /** Adds an item; waits while the writer is `limit` items behind. Rejects when the writer failed. */
  async push(item: T): Promise<void> {
    if (this.writerFailed) throw this.writerFailed.error
    while (this.queue.length >= this.limit) {
      const writerEnded = this.done.then(
        () => true,
        () => true,
      )
      const room = new Promise<boolean>((resolve) => (this.space = () => resolve(false)))
      if (await Promise.race([room, writerEnded])) {
        await this.done
        return
      }
    }
    this.queue.push(item)
    this.wake?.()
  }

  /** Ends the file and waits until it is in place. */
  async close(): Promise<WriteFileResult> {
    this.closed = true
    this.wake?.()
    return this.done
  }

  /** Abandons the file: a temp file is removed, an existing file left as it was. */
  async abort(error: unknown): Promise<void> {
    this.failure = { error }
    this.wake?.()
    await this.done.catch(() => undefined)
  }
}
