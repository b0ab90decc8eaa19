import { execFileSync } from 'node:child_process'
import { createReadStream, lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { describeWriteError, FilesError } from './errors'
import { ensureFolder, outputKind, TEMP_PREFIX, writeFileAtomic } from './write'

const fresh = (): string => mkdtempSync(join(tmpdir(), 'unet-files-'))

afterEach(() => {
  vi.restoreAllMocks()
})

describe('writeFileAtomic on regular files', () => {
  it('creates, then replaces a file, leaving no temp file', async () => {
    const dir = fresh()
    const path = join(dir, 'a.json')
    expect(await writeFileAtomic(path, '{"a":1}')).toMatchObject({ mode: 'replaced', bytes: 7 })
    await writeFileAtomic(path, new Uint8Array([104, 105]))
    expect(readFileSync(path, 'utf8')).toBe('hi')
    expect(readdirSync(dir)).toEqual(['a.json'])
  })

  it('streams chunks from an async generator and gzips a .gz path', async () => {
    const dir = fresh()
    async function* rows(): AsyncGenerator<string> {
      yield 'id,rle_mask\n'
      for (let i = 0; i < 1000; i++) yield `${i},1 ${i}\n`
    }
    const result = await writeFileAtomic(join(dir, 'sub.csv.gz'), rows())
    const text = gunzipSync(readFileSync(join(dir, 'sub.csv.gz'))).toString('utf8')
    expect(text.split('\n')).toHaveLength(1002)
    expect(result.bytes).toBe(Buffer.byteLength(text))
  })

  it('keeps the old file and removes its temp file when the content fails half-way', async () => {
    const dir = fresh()
    const path = join(dir, 'sub.csv')
    writeFileSync(path, 'old')
    async function* failing(): AsyncGenerator<string> {
      yield 'new part'
      throw new Error('model crashed')
    }
    await expect(writeFileAtomic(path, failing())).rejects.toThrow(/model crashed/)
    expect(readFileSync(path, 'utf8')).toBe('old')
    expect(readdirSync(dir).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([])
  })

  it('writes the target of a symbolic link and keeps the link', async () => {
    const dir = fresh()
    writeFileSync(join(dir, 'real.csv'), 'old')
    symlinkSync(join(dir, 'real.csv'), join(dir, 'link.csv'))
    await writeFileAtomic(join(dir, 'link.csv'), 'new')
    expect(lstatSync(join(dir, 'link.csv')).isSymbolicLink()).toBe(true)
    expect(readFileSync(join(dir, 'real.csv'), 'utf8')).toBe('new')
  })

  it('names a missing folder, or creates it with mkdir', async () => {
    const dir = fresh()
    await expect(writeFileAtomic(join(dir, 'no', 'x.csv'), 'x')).rejects.toMatchObject({ code: 'NO_FOLDER', message: expect.stringMatching(/does not exist; create it/) })
    await writeFileAtomic(join(dir, 'no', 'x.csv'), 'x', { mkdir: true })
    expect(readFileSync(join(dir, 'no', 'x.csv'), 'utf8')).toBe('x')
  })

  it('refuses a folder as the path', async () => {
    await expect(writeFileAtomic(fresh(), 'x')).rejects.toMatchObject({ code: 'IS_FOLDER' })
  })
})

describe('writeFileAtomic on things that are not regular files', () => {
  it('writes into a FIFO without replacing it, and its reader gets the content', async () => {
    const dir = fresh()
    const fifo = join(dir, 'pipe')
    execFileSync('mkfifo', [fifo])
    const received = new Promise<string>((done, fail) => {
      let text = ''
      createReadStream(fifo, 'utf8')
        .on('data', (c) => (text += String(c)))
        .on('end', () => done(text))
        .on('error', fail)
    })
    expect(await writeFileAtomic(fifo, ['id,rle_mask\n', 'a,1 2\n'])).toMatchObject({ mode: 'streamed' })
    expect(await received).toBe('id,rle_mask\na,1 2\n')
    expect(statSync(fifo).isFIFO()).toBe(true)
  })

  it('classifies devices as streams (so they are never renamed over) and reports a full one', async () => {
    expect((await outputKind('/dev/null')).kind).toBe('stream')
    const full = await outputKind('/dev/full')
    expect(full.kind).toBe('stream')
    // only written once the classification above is known to be right: a rename over /dev/full would break the machine
    await expect(writeFileAtomic('/dev/full', 'x'.repeat(10))).rejects.toMatchObject({ code: 'DISK_FULL', message: expect.stringMatching(/disk is full/) })
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true)
  })

  it('writes - to standard output', async () => {
    const written: string[] = []
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: Uint8Array, callback?: (e?: Error) => void) => {
      written.push(Buffer.from(chunk).toString('utf8'))
      callback?.()
      return true
    }) as typeof process.stdout.write)
    expect(await writeFileAtomic('-', ['a\n', 'b\n'])).toMatchObject({ mode: 'stdout', bytes: 4 })
    expect(written.join('')).toBe('a\nb\n')
  })
})

describe('errors', () => {
  it('says a folder is not writable, not that a file is missing', async () => {
    const e = describeWriteError('out/x.csv', 'out', Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))
    expect(e).toBeInstanceOf(FilesError)
    expect(e).toMatchObject({ code: 'NOT_WRITABLE', message: 'cannot write out/x.csv: out is not writable (EACCES); choose a folder you can write to' })
  })

  it.skipIf(process.getuid?.() === 0)('reports a read-only folder as not writable (skipped as root, who may write anywhere)', async () => {
    const dir = fresh()
    chmodSync(dir, 0o555)
    await expect(ensureFolder(join(dir, 'masks'))).rejects.toMatchObject({ code: 'NOT_WRITABLE' })
    await expect(writeFileAtomic(join(dir, 'x.csv'), 'x')).rejects.toMatchObject({ code: 'NOT_WRITABLE' })
  })

  it('ensureFolder creates nested folders and refuses a file in the way', async () => {
    const dir = fresh()
    await ensureFolder(join(dir, 'a', 'b'))
    expect(statSync(join(dir, 'a', 'b')).isDirectory()).toBe(true)
    writeFileSync(join(dir, 'file'), 'x')
    await expect(ensureFolder(join(dir, 'file', 'c'))).rejects.toMatchObject({ code: 'NO_FOLDER', message: expect.stringMatching(/a file is in the way/) })
  })
})
