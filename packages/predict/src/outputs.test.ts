import { execFileSync } from 'node:child_process'
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { StagedFolder, StreamedFile } from './outputs'

const readFifo = (path: string): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = ''
    createReadStream(path, 'utf8').on('data', (d) => (text += d)).on('end', () => resolve(text)).on('error', reject)
  })

describe('StagedFolder', () => {
  it('shows nothing until commit, then every file at once', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'staged-')), 'masks')
    const folder = await StagedFolder.open(dir)
    await folder.write('a.png', new Uint8Array([1, 2]))
    await folder.write('b.png', 'x')
    expect(readdirSync(dir).filter((n) => !n.startsWith('.'))).toEqual([])
    await folder.commit()
    expect(readdirSync(dir).sort()).toEqual(['a.png', 'b.png'])
    expect(readFileSync(join(dir, 'b.png'), 'utf8')).toBe('x')
  })

  it('leaves the folder as it was when aborted, and cleans stale stages of dead processes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'staged-'))
    writeFileSync(join(dir, 'a.png'), 'old')
    mkdirSync(join(dir, '.unet-tmp-stage-999999999-dead'))
    const folder = await StagedFolder.open(dir)
    await folder.write('a.png', 'new')
    await folder.abort()
    expect(readdirSync(dir)).toEqual(['a.png'])
    expect(readFileSync(join(dir, 'a.png'), 'utf8')).toBe('old')
  })

  it('writes into a FIFO in the folder instead of renaming over it (issue 17 F2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'staged-'))
    execFileSync('mkfifo', [join(dir, 'a.png')])
    const folder = await StagedFolder.open(dir)
    await folder.write('a.png', 'mask bytes')
    const reader = readFifo(join(dir, 'a.png'))
    await folder.commit()
    expect(await reader).toBe('mask bytes')
    expect(execFileSync('stat', ['-c', '%F', join(dir, 'a.png')]).toString().trim()).toBe('fifo')
  })
})

describe('StreamedFile', () => {
  it('streams pushed chunks into place atomically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamed-'))
    const file = new StreamedFile<string>(join(dir, 'boxes.jsonl'), undefined, 2)
    for (let i = 0; i < 10; i++) await file.push(`${i}\n`)
    expect(readdirSync(dir).filter((n) => n === 'boxes.jsonl')).toEqual([])
    await file.close()
    expect(readFileSync(join(dir, 'boxes.jsonl'), 'utf8')).toBe('0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n')
  })

  it('leaves an existing file untouched when aborted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamed-'))
    writeFileSync(join(dir, 'sub.csv'), 'old')
    const file = new StreamedFile(join(dir, 'sub.csv'))
    await file.push('new rows')
    await file.abort(new Error('unreadable image'))
    expect(readdirSync(dir)).toEqual(['sub.csv'])
    expect(readFileSync(join(dir, 'sub.csv'), 'utf8')).toBe('old')
  })
})
