import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { swapDirAtomic, writeFileAtomic } from './atomic'

describe('writeFileAtomic', () => {
  it('writes, gzips .gz and leaves no temp files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unet-atomic-'))
    await writeFileAtomic(join(dir, 'a.csv'), 'id,rle_mask\n')
    await writeFileAtomic(join(dir, 'a.csv.gz'), 'id,rle_mask\n')
    expect(readFileSync(join(dir, 'a.csv'), 'utf8')).toBe('id,rle_mask\n')
    expect(gunzipSync(readFileSync(join(dir, 'a.csv.gz'))).toString()).toBe('id,rle_mask\n')
    expect(readdirSync(dir).sort()).toEqual(['a.csv', 'a.csv.gz'])
  })
  it('fails with a one-line message naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unet-atomic-'))
    writeFileSync(join(dir, 'file'), 'x')
    await expect(writeFileAtomic(join(dir, 'file', 'sub.csv'), 'x')).rejects.toMatchObject({ code: 'WRITE_FAILED' })
  })
})

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
