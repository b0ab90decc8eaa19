import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { createGunzip } from 'node:zlib'
import { parseSubmissionChunks, submissionChunks, type SubmissionRow } from '@unet/rle'
import { writeFileAtomic } from '@unet/files'
import { PredictError } from './errors'

/** Options of {@link mergeSubmissions}. */
export interface MergeOptions {
  /**
   * Every id the merged file must hold, in the order to write them (the test set's, or sample_submission.csv's).
   * Each must appear in exactly one part; ids outside it are refused too.
   */
  readonly expectedIds: readonly string[]
  /** The header's columns; default: the first part's header. */
  readonly columns?: readonly [string, string]
}

/** What {@link mergeSubmissions} wrote. */
export interface MergeResult {
  readonly out: string
  readonly rows: number
  readonly parts: number
}

async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r')
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(2), 0, 2, 0)
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b
  } finally {
    await handle.close()
  }
}

/** The raw bytes of a part, gunzipped when it is gzip (whatever its name). */
async function* bytesOf(path: string): AsyncGenerator<Uint8Array> {
  let gz: boolean
  try {
    gz = await isGzip(path)
  } catch (cause) {
    throw new PredictError('MERGE_MISMATCH', `cannot read the part ${path}: ${(cause as Error).message}`, { file: path, cause })
  }
  const stream = gz ? createReadStream(path).pipe(createGunzip()) : createReadStream(path)
  try {
    for await (const chunk of stream) yield chunk as Uint8Array
  } catch (cause) {
    throw new PredictError('MERGE_MISMATCH', `cannot read the part ${path}: ${(cause as Error).message}; it is damaged: predict that shard again`, { file: path, cause })
  } finally {
    stream.destroy()
  }
}

/** The header line's two columns (of a CSV or gzipped CSV). */
export async function headerOf(path: string): Promise<[string, string]> {
  let text = ''
  for await (const chunk of bytesOf(path)) {
    text += new TextDecoder().decode(chunk)
    if (text.includes('\n') || text.length > 4096) break
  }
  const line = text.split(/\r?\n/)[0] ?? ''
  const fields = line.split(',')
  if (fields.length !== 2 || fields[0] === '' || fields[1] === '') {
    throw new PredictError('MERGE_MISMATCH', `${path} does not start with a two-column submission header (found "${line.slice(0, 60)}")`, { file: path })
  }
  return [fields[0] as string, fields[1] as string]
}

function rowsOf(path: string, columns: readonly [string, string]): AsyncGenerator<SubmissionRow> {
  return parseSubmissionChunks(bytesOf(path), { columns, source: path, validateRle: true })
}

function list(ids: readonly string[], n = 5): string {
  return ids.slice(0, n).join(', ') + (ids.length > n ? `, … (${ids.length} in all)` : '')
}

/**
 * Joins the part files of a sharded prediction into one submission, in `expectedIds` order. Checks first (reading
 * only ids) that every expected id appears exactly once across the parts and no other id appears, and refuses
 * otherwise naming the missing, duplicated and unknown ids; then streams the rows out with one row per part in
 * memory (each part is in test-set order, as `unet predict --shard` writes it). Written through the one atomic
 * write: nothing is written when the check fails.
 *
 * @param parts - the part files (`.csv` or gzip)
 * @param out - the merged file (`.gz` is gzipped, `-` is standard output)
 * @param options - the expected ids and their order
 * @returns rows and parts merged
 * @throws {PredictError} `MERGE_MISMATCH`
 * @example
 * ```ts
 * await mergeSubmissions(['sub.part-0-of-2.csv.gz', 'sub.part-1-of-2.csv.gz'], 'sub.csv.gz', { expectedIds })
 * ```
 */
export async function mergeSubmissions(parts: readonly string[], out: string, options: MergeOptions): Promise<MergeResult> {
  if (parts.length === 0) throw new PredictError('MERGE_MISMATCH', 'no part files given; pass the files written by `unet predict --shard I/N`')
  const columns = options.columns ?? (await headerOf(parts[0] as string))
  const position = new Map<string, number>()
  options.expectedIds.forEach((id, i) => position.set(id, i))
  const seen = new Map<string, string>()
  const duplicated: string[] = []
  const unknown: string[] = []
  const ordered: boolean[] = []
  for (const part of parts) {
    let last = -1
    let inOrder = true
    for await (const row of rowsOf(part, columns)) {
      const at = position.get(row.id)
      if (at === undefined) {
        unknown.push(`${row.id} (${part})`)
        continue
      }
      const earlier = seen.get(row.id)
      if (earlier !== undefined) duplicated.push(`${row.id} (${earlier} and ${part})`)
      else seen.set(row.id, part)
      if (at < last) inOrder = false
      last = at
    }
    ordered.push(inOrder)
  }
  const missing = options.expectedIds.filter((id) => !seen.has(id))
  if (missing.length > 0 || duplicated.length > 0 || unknown.length > 0) {
    const problems = [
      missing.length > 0 ? `${missing.length} id(s) missing: ${list(missing)}` : '',
      duplicated.length > 0 ? `${duplicated.length} duplicated: ${list(duplicated, 3)}` : '',
      unknown.length > 0 ? `${unknown.length} not in the test set: ${list(unknown, 3)}` : '',
    ].filter(Boolean)
    throw new PredictError('MERGE_MISMATCH', `cannot merge ${parts.length} part(s) into ${out}: ${problems.join('; ')}; predict the missing shards again or drop the extra parts`)
  }
  let rows = 0
  async function* merged(): AsyncGenerator<SubmissionRow> {
    if (ordered.every(Boolean)) {
      // k-way merge by test-set position: one pending row per part
      const iterators = parts.map((p) => rowsOf(p, columns))
      const heads: (SubmissionRow | null)[] = await Promise.all(iterators.map(async (it) => (await it.next()).value ?? null))
      for (;;) {
        let best = -1
        for (let k = 0; k < heads.length; k++) {
          const h = heads[k]
          if (h && (best < 0 || (position.get(h.id) as number) < (position.get((heads[best] as SubmissionRow).id) as number))) best = k
        }
        if (best < 0) return
        rows++
        yield heads[best] as SubmissionRow
        heads[best] = (await (iterators[best] as AsyncGenerator<SubmissionRow>).next()).value ?? null
      }
    }
    // parts written out of order (by hand): hold the rows, then write them in order
    const byId = new Map<string, string>()
    for (const part of parts) for await (const row of rowsOf(part, columns)) byId.set(row.id, row.rleMask)
    for (const id of options.expectedIds) {
      rows++
      yield { id, rleMask: byId.get(id) as string }
    }
  }
  await writeFileAtomic(out, submissionChunks(merged(), { columns, validateRle: false }), { mkdir: true })
  return { out, rows, parts: parts.length }
}
