import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureFolder, writeFileAtomic } from '@unet/files'
import type { BatchSource } from './batcher'
import { decodeImage } from './decode'
import { DataError, checkOption } from './errors'
import { type MaskInterpolation, type PrepareSpec, prepareImage, prepareMask } from './prepare'
import type { Dataset, Sample, SampleEntry } from './read'

/** Options of {@link createSampleLoader}. */
export interface SampleLoaderOptions {
  /**
   * Bring each sample to this model size as it is loaded (then augmentation
   * runs at the model size, and the batcher's own prepare step is a copy).
   * Without it, samples come at their own size.
   */
  prepare?: PrepareSpec
  /** How masks are resized (default `'threshold'`). */
  maskInterpolation?: MaskInterpolation
  /**
   * `'prepare'` (default): decode at full size, then {@link prepareImage}, the
   * same numbers as prediction. `'sharp'`: let sharp resize while decoding
   * (JPEG shrink-on-load, its thread pool; `mode: 'resize'` only): several
   * times faster on big photos, with sharp's own kernel.
   */
  resizeWith?: 'prepare' | 'sharp'
  /**
   * A folder for resized copies (needs `prepare`): each sample is decoded and
   * resized once, then read back from here (8-bit, or 16-bit with `cacheDepth: 16`).
   * Entries are keyed by file, mask, spec and depth: delete the folder when the data changes. A sample
   * decoded now comes back with the cached precision too, so results do not depend on what the cache held.
   */
  cache?: string
  /** Bits per value in the cache: 8 (default; errors ≤ 1/510) or 16. */
  cacheDepth?: 8 | 16
}

/** A {@link BatchSource} that decodes on demand, with counts of cache use. */
export interface SampleLoader extends BatchSource<Sample> {
  readonly stats: { decoded: number; cached: number }
}

const MAGIC = 'unet-data-cache-1'

/**
 * Loads samples of a listed dataset on demand, so memory stays bounded
 * whatever the dataset size (Carvana's 5,088 photos are 37 GB as Float32): the
 * batcher asks for sample i, the loader decodes it (through sharp's thread
 * pool), optionally resizes it and keeps a resized copy on disk.
 *
 * @param dataset - from {@link openDataset}
 * @param entries - which samples (e.g. the train side of a grouped split)
 * @param options - `prepare`, `resizeWith`, `cache`, `cacheDepth`, `maskInterpolation`
 * @returns a source for {@link createBatcher}
 * @example
 * ```ts
 * const data = await openDataset('/data/carvana', { test: false })
 * const spec = { width: 512, height: 512, mode: 'resize' } as const
 * const loader = createSampleLoader(data, data.train, { prepare: spec, cache: '/tmp/carvana-512' })
 * const batcher = createBatcher(loader, { prepare: spec, batchSize: 8 })
 * ```
 */
export function createSampleLoader(dataset: Pick<Dataset, 'load'>, entries: readonly SampleEntry[], options: SampleLoaderOptions = {}): SampleLoader {
  const spec = options.prepare
  const resizeWith = options.resizeWith ?? 'prepare'
  const depth = options.cacheDepth ?? 8
  checkOption(resizeWith === 'prepare' || resizeWith === 'sharp', `resizeWith must be 'prepare' or 'sharp', got ${String(resizeWith)}`)
  checkOption(resizeWith === 'prepare' || spec?.mode === 'resize', "resizeWith: 'sharp' needs prepare: { mode: 'resize', … }")
  checkOption(options.cache === undefined || spec !== undefined, 'a cache holds resized samples: give { prepare: { width, height, mode } } too')
  checkOption(depth === 8 || depth === 16, `cacheDepth must be 8 or 16, got ${String(depth)}`)
  const stats = { decoded: 0, cached: 0 }
  let folderReady: Promise<unknown> | undefined

  const keyOf = (e: SampleEntry): string =>
    createHash('sha256')
      .update(JSON.stringify([MAGIC, e.image.where, e.mask?.where ?? null, e.rle ? [e.rle.file, e.rle.line] : null, spec, options.maskInterpolation ?? 'threshold', resizeWith, depth]))
      .digest('hex')
      .slice(0, 32)

  const decode = async (e: SampleEntry): Promise<Sample> => {
    stats.decoded++
    if (resizeWith === 'sharp' && spec) {
      // sharp resizes the image while decoding (JPEG shrink-on-load); the mask follows.
      return dataset.load(e, { resize: { width: spec.width, height: spec.height } })
    }
    const s = await dataset.load(e)
    if (!spec) return s
    return {
      ...s,
      image: prepareImage(s.image, s, spec),
      mask: prepareMask(s.mask, s, spec, options.maskInterpolation ? { interpolation: options.maskInterpolation } : {}),
      width: spec.width,
      height: spec.height,
    }
  }

  const get = async (index: number): Promise<Sample> => {
    const e = entries[index]
    checkOption(e !== undefined, `sample index ${index} is outside 0…${entries.length - 1}`)
    if (options.cache === undefined) return decode(e)
    const file = join(options.cache, `${keyOf(e)}.bin`)
    const hit = await readCache(file, e).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    })
    if (hit) {
      stats.cached++
      return hit
    }
    const bytes = encodeCache(await decode(e), depth)
    folderReady ??= ensureFolder(options.cache)
    await folderReady
    await writeFileAtomic(file, bytes)
    // what a later read gives (8- or 16-bit values), so a sample is the same whether the cache held it or not:
    // batch k of epoch e stays a function of (seed, e, k), and a resumed run sees what an uninterrupted one saw
    return parseCache(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), e, file) as Sample
  }
  return { length: entries.length, get, stats }
}

function encodeCache(s: Sample, depth: 8 | 16): Uint8Array {
  const header = Buffer.from(
    JSON.stringify({ magic: MAGIC, id: s.id, width: s.width, height: s.height, channels: s.channels, original: s.original, group: s.group ?? null, format: s.format ?? null, depth }),
  )
  const n = s.image.length
  const pixels = depth === 8 ? new Uint8Array(n) : new Uint16Array(n)
  const max = depth === 8 ? 255 : 65535
  for (let i = 0; i < n; i++) {
    const v = s.image[i]!
    pixels[i] = Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * max)
  }
  const out = new Uint8Array(4 + header.length + pixels.byteLength + s.mask.length)
  new DataView(out.buffer).setUint32(0, header.length)
  out.set(header, 4)
  out.set(new Uint8Array(pixels.buffer), 4 + header.length)
  out.set(s.mask, 4 + header.length + pixels.byteLength)
  return out
}

async function readCache(file: string, e: SampleEntry): Promise<Sample | undefined> {
  return parseCache(await readFile(file), e, file)
}

function parseCache(bytes: Buffer, e: SampleEntry, file: string): Sample | undefined {
  try {
    const length = bytes.readUInt32BE(0)
    const h = JSON.parse(bytes.subarray(4, 4 + length).toString('utf8')) as {
      magic: string
      id: string
      width: number
      height: number
      channels: number
      original: { width: number; height: number }
      group: string | null
      format: string | null
      depth: 8 | 16
    }
    if (h.magic !== MAGIC || h.id !== e.id) return undefined
    const n = h.width * h.height * h.channels
    const at = 4 + length
    const image = new Float32Array(n)
    if (h.depth === 8) for (let i = 0; i < n; i++) image[i] = bytes[at + i]! / 255
    else {
      const u16 = new Uint16Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + 2 * n))
      for (let i = 0; i < n; i++) image[i] = u16[i]! / 65535
    }
    const maskAt = at + n * (h.depth / 8)
    if (bytes.length !== maskAt + h.width * h.height) return undefined
    const mask = new Uint8Array(bytes.subarray(maskAt))
    return {
      id: h.id,
      image,
      mask,
      width: h.width,
      height: h.height,
      channels: h.channels,
      original: h.original,
      ...(h.group !== null ? { group: h.group } : {}),
      ...(h.format !== null ? { format: h.format } : {}),
    }
  } catch (cause) {
    // A damaged cache entry is rebuilt, not trusted.
    if (cause instanceof SyntaxError || cause instanceof RangeError) return undefined
    throw new DataError('CORRUPT_IMAGE', `${file}: cache entry unreadable (${(cause as Error).message}); delete the cache folder.`, { cause, file })
  }
}
