import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Runs `work` unless another process holds `lock` (parallel calls of seeds.ts or ablation.ts share their folders): then
 * waits for it to finish. A lock whose process is gone is taken over.
 */
export async function once(lock: string, work: () => void): Promise<void> {
  while (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8'))
    if (!isAlive(pid)) break
    await new Promise((r) => setTimeout(r, 10_000))
    if (!existsSync(lock)) return
  }
  mkdirSync(dirname(lock), { recursive: true })
  writeFileSync(lock, String(process.pid))
  try {
    work()
  } finally {
    rmSync(lock, { force: true })
  }
}

/**
 * Takes `lock` if no live process holds it (created exclusively, so two callers never both get it) and returns true,
 * or returns false at once. A lock whose process is gone is taken over. Release it with `release`.
 */
export function tryLock(lock: string): boolean {
  mkdirSync(dirname(lock), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' })
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      let pid = NaN
      try {
        pid = Number(readFileSync(lock, 'utf8'))
      } catch {
        continue // released meanwhile
      }
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return false
      rmSync(lock, { force: true }) // its process is gone
    }
  }
  return false
}

export function release(lock: string): void {
  rmSync(lock, { force: true })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
