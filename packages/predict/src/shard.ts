import { PredictError } from './errors'

/** One of `count` parts of a test set: `index` runs from 0 to `count - 1` (as Kubernetes' JOB_COMPLETION_INDEX). */
export interface Shard {
  readonly index: number
  readonly count: number
}

/**
 * Parses a shard spec `I/N`: shard I (0-based) of N.
 *
 * @param spec - e.g. `2/3`
 * @returns the shard
 * @throws {PredictError} `BAD_OPTION` in one line for anything else (`3/2`, `1/0`, `a/b`)
 * @example
 * ```ts
 * parseShard('0/3') // { index: 0, count: 3 }
 * ```
 */
export function parseShard(spec: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec)
  const index = m ? Number(m[1]) : NaN
  const count = m ? Number(m[2]) : NaN
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1) {
    throw new PredictError('BAD_OPTION', `shard "${spec}" is not I/N with N ≥ 1; use e.g. --shard 0/3 for the first of three shards`)
  }
  if (index >= count) {
    throw new PredictError('BAD_OPTION', `shard "${spec}": the index must be 0…${count - 1} (shards are numbered from 0, as JOB_COMPLETION_INDEX)`)
  }
  return { index, count }
}

/**
 * The shard a Kubernetes Indexed Job gives this pod: `JOB_COMPLETION_INDEX` of `JOB_COMPLETIONS`.
 *
 * @param env - the environment (e.g. `process.env`)
 * @returns the shard, or null when neither variable is set (or both are empty)
 * @throws {PredictError} `BAD_OPTION` when only one is set or they do not make a shard
 * @example
 * ```ts
 * shardFromEnv({ JOB_COMPLETION_INDEX: '1', JOB_COMPLETIONS: '3' }) // { index: 1, count: 3 }
 * ```
 */
export function shardFromEnv(env: Readonly<Record<string, string | undefined>>): Shard | null {
  // an empty variable is an unset one (`JOB_COMPLETIONS= unet predict …`)
  const index = env.JOB_COMPLETION_INDEX || undefined
  const count = env.JOB_COMPLETIONS || undefined
  if (index === undefined && count === undefined) return null
  if (index === undefined || count === undefined) {
    throw new PredictError(
      'BAD_OPTION',
      `JOB_COMPLETION_INDEX is ${index === undefined ? 'unset' : `"${index}"`} but JOB_COMPLETIONS is ${count === undefined ? 'unset' : `"${count}"`}: set both (an Indexed Job sets JOB_COMPLETION_INDEX; pass JOB_COMPLETIONS from spec.completions) or pass --shard I/N`,
    )
  }
  try {
    return parseShard(`${index}/${count}`)
  } catch (cause) {
    throw new PredictError('BAD_OPTION', `JOB_COMPLETION_INDEX=${index} and JOB_COMPLETIONS=${count} do not make a shard: ${(cause as Error).message}`, { cause })
  }
}

/**
 * Which of `count` shards an image id falls in: a 32-bit FNV-1a hash of the id, so the split is stable (the same
 * on every machine, whatever order files are listed in) and needs no coordination.
 *
 * @param id - the image id
 * @param count - number of shards
 * @returns 0 … count - 1
 * @example
 * ```ts
 * shardOf('0a1742c740', 3) // the same number on every machine
 * ```
 */
export function shardOf(id: string, count: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h % count
}

/**
 * The path of a shard's part file: `.part-I-of-N` inserted before the extensions (`sub.csv.gz` →
 * `sub.part-1-of-3.csv.gz`), so every pod of an Indexed Job can be given the same `--out`.
 *
 * @param path - the output path
 * @param shard - the shard
 * @returns the part's path
 * @example
 * ```ts
 * partPath('out/submission.csv.gz', { index: 1, count: 3 }) // 'out/submission.part-1-of-3.csv.gz'
 * ```
 */
export function partPath(path: string, shard: Shard): string {
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'))
  const name = path.slice(slash + 1)
  const m = /^(.+?)((?:\.[A-Za-z0-9]+)*)$/.exec(name)
  const stem = m?.[1] ?? name
  const ext = m?.[2] ?? ''
  return `${path.slice(0, slash + 1)}${stem}.part-${shard.index}-of-${shard.count}${ext}`
}
