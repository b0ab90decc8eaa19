import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { release, tryLock } from './lock'

describe('tryLock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parity-lock-'))

  it('gives a lock to one caller only, and again once it is released', () => {
    const lock = join(dir, 'cells', 'a.lock')
    expect(tryLock(lock)).toBe(true)
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid))
    expect(tryLock(lock)).toBe(false) // held by a live process (this one)
    release(lock)
    expect(existsSync(lock)).toBe(false)
    expect(tryLock(lock)).toBe(true)
    release(lock)
  })

  it('takes over a lock whose process is gone', () => {
    const lock = join(dir, 'b.lock')
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    writeFileSync(lock, gone.stdout)
    expect(tryLock(lock)).toBe(true)
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid))
    release(lock)
  })
})
