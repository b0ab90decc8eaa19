import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { TrainerError } from './errors'

let counter = 0

/** A temp path in the same folder as `path`, so the final rename stays on one file system. */
export function tempPathFor(path: string): string {
  counter += 1
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter}`)
}

/**
 * Writes a file atomically: to a temp file in the same folder, then renamed
 * into place, so a reader (or a crash) never sees half a file. A path ending
 * in `.gz` is gzipped.
 *
 * @param path - where the file should end up
 * @param data - its content
 * @returns once the file is in place
 * @example
 * ```ts
 * await writeFileAtomic('runs/a/config.json', JSON.stringify({ epochs: 3 }))
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path)
  try {
    await mkdir(dirname(path), { recursive: true })
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    await writeFile(tmp, path.endsWith('.gz') ? gzipSync(bytes) : bytes)
    await rename(tmp, path)
  } catch (cause) {
    await rm(tmp, { force: true }).catch(() => undefined)
    throw new TrainerError('WRITE_FAILED', `could not write ${path}: ${(cause as Error).message}; check the folder exists and is writable`, { cause })
  }
}

/**
 * Puts a fully written folder `tmpDir` in place of `dir`: the old folder is
 * moved aside, the new one renamed in, the old one removed. If the process dies
 * between the two renames, {@link resolveSwappedDir} finds the moved-aside copy.
 *
 * @param tmpDir - the finished folder
 * @param dir - where it should be
 * @returns once it is in place
 * @example
 * ```ts
 * await swapDirAtomic('runs/a/.last-tmp', 'runs/a/last')
 * ```
 */
export async function swapDirAtomic(tmpDir: string, dir: string): Promise<void> {
  const old = join(dirname(dir), `.${basename(dir)}.old`)
  await rm(old, { recursive: true, force: true })
  try {
    await rename(dir, old)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  await rename(tmpDir, dir)
  await rm(old, { recursive: true, force: true })
}

/** The folder `dir`, or the copy {@link swapDirAtomic} moved aside if the swap was cut short. */
export function resolveSwappedDir(dir: string): string[] {
  return [dir, join(dirname(dir), `.${basename(dir)}.old`)]
}
