import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { formatSubmission, type SubmissionRow } from './submission'
import { SubmissionError } from './submission-error'
import { readSubmission, streamSubmission, writeSubmission } from './submission-files'

const dir = mkdtempSync(join(tmpdir(), 'unet-rle-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const rows: SubmissionRow[] = Array.from({ length: 2000 }, (_, i) => ({
  id: i.toString(16).padStart(10, '0'),
  rleMask: i % 3 === 0 ? '' : `${i + 1} ${(i % 7) + 1}`,
}))

async function* slowly(items: SubmissionRow[]): AsyncGenerator<SubmissionRow> {
  for (const item of items) yield item
}

describe('writeSubmission', () => {
  it('refuses a file path and points to @unet/files', async () => {
    await expect(writeSubmission(join(dir, 'a.csv') as never, rows)).rejects.toMatchObject({
      code: 'INVALID_TARGET',
      message: expect.stringMatching(/writeFileAtomic\(path, submissionChunks\(rows\)\) from @unet\/files/),
    })
    expect(readdirSync(dir)).toEqual([])
  })

  it('stops at a bad row with its line', async () => {
    const stream = new PassThrough()
    stream.resume()
    const bad = [...rows.slice(0, 1500), rows[3] as SubmissionRow]
    await expect(writeSubmission(stream, bad)).rejects.toMatchObject({ code: 'DUPLICATE_ID', line: 1501 })
  })

  it('writes to a Node writable, waiting for it to drain, and leaves it open unless asked', async () => {
    const stream = new PassThrough({ highWaterMark: 64 })
    let text = ''
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString()
    })
    await writeSubmission(stream, rows.slice(0, 300), { chunkSize: 100 })
    expect(stream.writableEnded).toBe(false)
    await writeSubmission(stream, [], { end: true })
    expect(stream.writableEnded).toBe(true)
    expect(text).toBe(formatSubmission(rows.slice(0, 300)) + 'id,rle_mask\n')
  })

  it('writes to a web WritableStream', async () => {
    let text = ''
    let closed = false
    const stream = new WritableStream<string>({
      write(chunk) {
        text += chunk
      },
      close() {
        closed = true
      },
    })
    expect(await writeSubmission(stream, rows.slice(0, 10), { end: true })).toEqual({ rows: 10 })
    expect(closed).toBe(true)
    expect(text).toBe(formatSubmission(rows.slice(0, 10)))
  })

  it('refuses a target it cannot write to', async () => {
    await expect(writeSubmission(42 as never, rows)).rejects.toMatchObject({ code: 'INVALID_TARGET' })
  })
})

describe('streamSubmission / readSubmission', () => {
  it('names the file and line of a problem', async () => {
    const path = join(dir, 'bad.csv')
    writeFileSync(path, 'id,rle_mask\na,1 1\na,2 2\n')
    const error = await readSubmission(path).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SubmissionError)
    expect(error).toMatchObject({ code: 'DUPLICATE_ID', line: 3 })
    expect((error as Error).message).toContain(`${path} line 3`)
  })

  it('streams rows and checks them against a shape', async () => {
    const path = join(dir, 'shape.csv')
    writeFileSync(path, 'id,rle_mask\na,1 4\nb,5 3\n')
    const seen: string[] = []
    const read = async (): Promise<void> => {
      for await (const row of streamSubmission(path, { shape: { height: 2, width: 3 } })) seen.push(row.id)
    }
    await expect(read()).rejects.toMatchObject({ code: 'INVALID_RLE', line: 3 })
    expect(seen).toEqual(['a'])
  })

  it('reports a missing file as READ_FAILED', async () => {
    await expect(readSubmission(join(dir, 'nope.csv'))).rejects.toMatchObject({ code: 'READ_FAILED' })
  })
})
