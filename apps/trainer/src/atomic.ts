import { rename, rm } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'

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
