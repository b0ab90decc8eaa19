import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { swapDirAtomic } from './atomic'

describe('swapDirAtomic', () => {
  it('replaces a folder with a finished one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unet-swap-'))
    mkdirSync(join(dir, 'last'))
    writeFileSync(join(dir, 'last', 'v'), '1')
    mkdirSync(join(dir, 'tmp'))
    writeFileSync(join(dir, 'tmp', 'v'), '2')
    await swapDirAtomic(join(dir, 'tmp'), join(dir, 'last'))
    expect(readFileSync(join(dir, 'last', 'v'), 'utf8')).toBe('2')
    expect(existsSync(join(dir, 'tmp'))).toBe(false)
    expect(readdirSync(dir)).toEqual(['last'])
  })
})
