import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Prefix of the temp files {@link writeFileAtomic} leaves behind only when a process dies mid-write. */
export const TEMP_PREFIX = '.unet-tmp-'

/**
 * Writes a file so that readers see either the old content or the new, never a torn mix: the bytes go to a
 * temp file in the same folder, are flushed to disk, and the temp file is renamed over the target.
 * A crash (or an error) before the rename leaves the old file untouched.
 *
 * @param path - the file to write
 * @param data - its new content
 * @returns once the new content is in place and on disk
 * @example
 * ```ts
 * await writeFileAtomic('runs/1/state.json', JSON.stringify({ epoch: 3 }))
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = join(dirname(path), `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}-${basename(path)}`)
  try {
    const handle = await open(temp, 'w')
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined)
    throw error
  }
}

/**
 * Flushes a folder's entries (the renames into it) to disk. Not every platform can open a folder for this
 * (Windows cannot); there the rename is as durable as the OS makes it.
 *
 * @param dir - the folder
 */
export async function syncDir(dir: string): Promise<void> {
  let handle
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch {
    // best effort
  } finally {
    await handle?.close()
  }
}
