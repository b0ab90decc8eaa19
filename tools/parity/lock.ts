import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Runs `work` unless another process holds `lock` (parallel calls of seeds.ts or ablation.ts share their folders): then
 * waits for it to finish. A lock whose process is gone is taken over.
 */
export async function once(lock: string, work: () => void): Promise<void> {
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  while (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8'))
    if (!alive(pid)) break
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
