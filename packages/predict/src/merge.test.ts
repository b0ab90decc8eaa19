import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { mergeSubmissions } from './merge'

const ids = ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg']
const csv = (rows: string[]): string => ['img,rle_mask', ...rows.map((id) => `${id},${Math.max(0, ids.indexOf(id)) + 1} 1`)].join('\n') + '\n'

function parts(dir: string, spec: string[][], gzip = false): string[] {
  return spec.map((rows, i) => {
    const path = join(dir, `p${i}.csv${gzip ? '.gz' : ''}`)
    writeFileSync(path, gzip ? gzipSync(csv(rows)) : csv(rows))
    return path
  })
}

describe('mergeSubmissions', () => {
  it('joins parts into test-set order, gzip or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'merge-'))
    const files = parts(dir, [['b.jpg', 'e.jpg'], ['a.jpg', 'c.jpg'], ['d.jpg']], true)
    const r = await mergeSubmissions(files, join(dir, 'all.csv.gz'), { expectedIds: ids })
    expect(r).toMatchObject({ rows: 5, parts: 3 })
    expect(gunzipSync(readFileSync(join(dir, 'all.csv.gz'))).toString()).toBe(csv(ids))
  })

  it('puts parts written out of order in order too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'merge-'))
    const files = parts(dir, [['e.jpg', 'b.jpg'], ['c.jpg', 'a.jpg', 'd.jpg']])
    await mergeSubmissions(files, join(dir, 'all.csv'), { expectedIds: ids })
    expect(readFileSync(join(dir, 'all.csv'), 'utf8')).toBe(csv(ids))
  })

  it('refuses missing, duplicated and unknown ids by name, writing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'merge-'))
    const files = parts(dir, [['a.jpg', 'b.jpg'], ['b.jpg', 'x.jpg']])
    const out = join(dir, 'all.csv')
    await expect(mergeSubmissions(files, out, { expectedIds: ids })).rejects.toThrow(
      `cannot merge 2 part(s) into ${out}: 3 id(s) missing: c.jpg, d.jpg, e.jpg; 1 duplicated: b.jpg (${files[0]} and ${files[1]}); 1 not in the test set: x.jpg (${files[1]}); predict the missing shards again or drop the extra parts`,
    )
    expect(existsSync(out)).toBe(false)
  })

  it('writes into a FIFO instead of replacing it (issue 17 F2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'merge-'))
    const files = parts(dir, [['a.jpg', 'b.jpg', 'c.jpg'], ['d.jpg', 'e.jpg']])
    const fifo = join(dir, 'pipe')
    execFileSync('mkfifo', [fifo])
    const reader = new Promise<string>((resolve, reject) => {
      import('node:fs').then(({ createReadStream }) => {
        let text = ''
        createReadStream(fifo, 'utf8').on('data', (d) => (text += d)).on('end', () => resolve(text)).on('error', reject)
      }, reject)
    })
    await mergeSubmissions(files, fifo, { expectedIds: ids })
    expect(await reader).toBe(csv(ids))
    expect(execFileSync('stat', ['-c', '%F', fifo]).toString().trim()).toBe('fifo')
  })
})
