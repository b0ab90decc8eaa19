import { coverageClass, mapLimit, maskCoverage, parseCsv as parseCsvData } from '@unet/data'
import { decode as decodeRle } from '@unet/rle'
import { type TgsDataErrorCode, TgsDataError, asTgsError, checkOption } from './errors'
import { decodePng } from './png'
import { type DatasetSource, type SourceFile, openDatasetSource } from './source'
import type { TgsSample, TgsTestImage } from './types'

/** A file or id that was left out, and why. */
export interface TgsProblem {
  code: TgsDataErrorCode
  /** The sample id, when the problem belongs to one. */
  id?: string
  /** The file, when the problem belongs to one. */
  file?: string
  message: string
}

/** What {@link readTgsDataset} found and what it left out. */
export interface TgsReadReport {
  /** The path that was read. */
  source: string
  trainCount: number
  testCount: number
  /** Train samples whose mask is empty. */
  emptyMasks: number
  /** Where masks came from: the PNG files, or `train.csv` when there are no mask files. */
  maskSource: 'files' | 'train.csv'
  /** How many images / masks had each PNG format, e.g. `{ '8-bit, 1 channel': 4000 }`. */
  imageFormats: Record<string, number>
  maskFormats: Record<string, number>
  /** Files and ids left out, each with the reason. Empty when everything was read. */
  skipped: TgsProblem[]
  /** Things worth knowing that left nothing out (e.g. no `train.csv` to cross-check). */
  notes: string[]
}

/** Options of {@link readTgsDataset}. */
export interface ReadTgsOptions {
  /**
   * What to do with a file that cannot be used (corrupt PNG, wrong size, image
   * without mask, mask without image, a symbolic link that loops): `'error'`
   * (default) reads everything, then stops with one error naming all of them
   * (its `problems`; its `code` is the first one's); `'skip'` leaves them out and
   * lists them in `report.skipped` (a CLI's `--skip-bad`). Never silent.
   */
  onInvalidFile?: 'skip' | 'error'
  /**
   * Depths are optional (only a depth input channel needs them). Without
   * `depths.csv` the read goes on with `depth: NaN` and a note; ids missing from
   * a `depths.csv` that exists stop the read (the file is inconsistent). `'error'`
   * also stops when there is no `depths.csv`; `'nan'` goes on in both cases,
   * listing missing ids in `report.skipped`. Default `'auto'`.
   */
  missingDepths?: 'auto' | 'error' | 'nan'
  /** Expected image size; other sizes are invalid files. Default 101 × 101. */
  size?: { height: number; width: number }
  /** Read `test/images` too (default true). 18,000 Kaggle test images take about 0.7 GB as Float32. */
  test?: boolean
  /** Read only the first `limit` train ids (sorted), for quick runs. */
  limit?: number
  /** PNG decodes in flight at once (default 8). */
  concurrency?: number
}

/** The result of {@link readTgsDataset}. */
export interface TgsDataset {
  train: TgsSample[]
  test: TgsTestImage[]
  report: TgsReadReport
}

const PNG_ID = /^(.+)\.png$/i

function parseCsv(text: string, file: string, header: string[]) {
  try {
    return parseCsvData(text, file, header)
  } catch (e) {
    throw asTgsError(e)
  }
}

/** Kaggle's train.zip (and any zip named train.zip inside another): the test set never needs it. */
const TRAIN_ZIP = (path: string): boolean => /(^|\/)train\.zip$/i.test(path)

/**
 * Reads a folder or zip laid out like the Kaggle TGS Salt download
 * (`train/images`, `train/masks`, `test/images`, `train.csv`, `depths.csv`;
 * or `train.zip` / `test.zip` / the competition zip, read in place).
 *
 * Problems with single files (corrupt PNG, wrong size, image without mask,
 * mask without image) skip that sample and are listed in `report.skipped`
 * (or throw, with `onInvalidFile: 'error'`). Problems that make the data
 * untrustworthy stop the read with a {@link TgsDataError}: `train.csv`
 * disagreeing with the mask files, ids missing from `depths.csv`, duplicate ids.
 *
 * @param source - the dataset folder, or a `.zip`
 * @param options - see {@link ReadTgsOptions}
 * @returns train samples, test images and a report of what was read and left out
 * @example
 * ```ts
 * const { train, test, report } = await readTgsDataset('./tgs-salt-identification-challenge.zip')
 * console.log(train.length, test.length, report.skipped)
 * ```
 */
export async function readTgsDataset(source: string, options: ReadTgsOptions = {}): Promise<TgsDataset> {
  const onInvalid = options.onInvalidFile ?? 'error'
  const missingDepths = options.missingDepths ?? 'auto'
  const size = options.size ?? { height: 101, width: 101 }
  const concurrency = options.concurrency ?? 8
  checkOption(onInvalid === 'skip' || onInvalid === 'error', `onInvalidFile must be 'skip' or 'error', got ${String(onInvalid)}`)
  checkOption(
    missingDepths === 'auto' || missingDepths === 'error' || missingDepths === 'nan',
    `missingDepths must be 'auto', 'error' or 'nan', got ${String(missingDepths)}`,
  )
  checkOption(Number.isInteger(concurrency) && concurrency > 0, `concurrency must be a positive integer, got ${concurrency}`)
  checkOption(
    options.limit === undefined || (Number.isInteger(options.limit) && options.limit >= 0),
    `limit must be a non-negative integer, got ${String(options.limit)}`,
  )

  const src = await openDatasetSource(source)
  try {
    return await readFromSource(src, { onInvalid, missingDepths, size, concurrency, test: options.test ?? true, limit: options.limit })
  } finally {
    await src.close()
  }
}

interface Resolved {
  onInvalid: 'skip' | 'error'
  missingDepths: 'auto' | 'error' | 'nan'
  size: { height: number; width: number }
  concurrency: number
  test: boolean
  limit: number | undefined
}

async function readFromSource(src: DatasetSource, opts: Resolved): Promise<TgsDataset> {
  const skipped: TgsProblem[] = src.problems.map((p) => ({ code: p.code === 'SYMLINK_LOOP' ? 'SYMLINK_LOOP' : 'SOURCE_NOT_FOUND', file: p.file, message: `${p.file}: ${p.reason}` }))
  const notes: string[] = [...src.notes]
  const problem = (p: TgsProblem): void => {
    skipped.push(p)
  }

  const trainImages = listPngs(src, 'train/images/')
  const trainMasks = listPngs(src, 'train/masks/')
  const testImages = opts.test ? listPngs(src, 'test/images/') : new Map<string, SourceFile>()
  for (const id of trainImages.keys()) {
    if (testImages.has(id)) {
      throw new TgsDataError(
        'DUPLICATE_ID',
        `id ${id} is both a train image (${trainImages.get(id)!.where}) and a test image (${testImages.get(id)!.where}); ids must be unique: remove one.`,
        { file: testImages.get(id)!.where },
      )
    }
  }

  const depths = await readDepths(src)
  const csv = await readTrainCsv(src)
  const { height, width } = opts.size

  // Pair images with masks. Without mask files, train.csv is the source of masks.
  const maskSource: 'files' | 'train.csv' = trainMasks.size === 0 && csv !== undefined ? 'train.csv' : 'files'
  if (maskSource === 'train.csv') notes.push('no train/masks/ found: masks were decoded from train.csv')
  else if (csv === undefined && trainImages.size > 0) notes.push('no train.csv found: masks were not cross-checked against it')

  let ids = [...trainImages.keys()].sort()
  for (const [id, file] of trainMasks) {
    if (!trainImages.has(id)) {
      problem({ code: 'MASK_WITHOUT_IMAGE', id, file: file.where, message: `${file.where}: mask ${id} has no image train/images/${id}.png; add the image or remove the mask.` })
    }
  }
  if (csv !== undefined && maskSource === 'files') {
    // train.csv and the mask files must list the same ids.
    for (const [id, row] of csv.rows) {
      if (!trainMasks.has(id) && trainImages.has(id)) {
        throw new TgsDataError(
          'CSV_MASK_MISMATCH',
          `train.csv line ${row.line} lists id ${id}, but train/masks/${id}.png does not exist; restore the mask file or fix train.csv.`,
          { file: csv.where },
        )
      }
    }
    for (const [id, file] of trainMasks) {
      if (!csv.rows.has(id) && trainImages.has(id)) {
        throw new TgsDataError(
          'CSV_MASK_MISMATCH',
          `${file.where} has no row in train.csv; the mask files and train.csv disagree: restore the row or remove the mask.`,
          { file: csv.where },
        )
      }
    }
  }
  ids = ids.filter((id) => {
    const hasMask = maskSource === 'files' ? trainMasks.has(id) : csv!.rows.has(id)
    if (!hasMask) {
      const where = trainImages.get(id)!.where
      problem({
        code: 'IMAGE_WITHOUT_MASK',
        id,
        file: where,
        message: `${where}: image ${id} has no mask (${maskSource === 'files' ? `train/masks/${id}.png` : 'train.csv row'}); add the mask or remove the image.`,
      })
    }
    return hasMask
  })
  if (opts.limit !== undefined) ids = ids.slice(0, opts.limit)

  const missing = [...ids, ...testImages.keys()].filter((id) => depths !== undefined && !depths.values.has(id))
  if (depths === undefined && ids.length + testImages.size > 0) {
    if (opts.missingDepths === 'error') {
      throw new TgsDataError(
        'MISSING_DEPTH',
        `${src.path} has no depths.csv; add it, or read without depths (they are needed only for a depth input channel): missingDepths 'auto' or 'nan'.`,
        { file: src.path },
      )
    }
    notes.push('no depths.csv found: every depth is NaN (fine unless the model takes depth as an input channel)')
  } else if (missing.length > 0) {
    const list = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '')
    if (opts.missingDepths !== 'nan') {
      throw new TgsDataError(
        'MISSING_DEPTH',
        `depths.csv has no depth for ${missing.length} id(s): ${list}; add the rows, or go on with those depths unknown (missingDepths: 'nan'), which is fine unless the model takes depth as an input channel.`,
        { file: depths?.where },
      )
    }
    for (const id of missing) skipped.push({ code: 'MISSING_DEPTH', id, file: depths?.where, message: `depths.csv has no depth for ${id}; its depth is NaN.` })
  }
  const depthOf = (id: string): number => depths?.values.get(id) ?? Number.NaN

  const imageFormats: Record<string, number> = {}
  const maskFormats: Record<string, number> = {}
  const count = (formats: Record<string, number>, bitDepth: number, channels: number): void => {
    const key = `${bitDepth}-bit, ${channels} channel${channels === 1 ? '' : 's'}`
    formats[key] = (formats[key] ?? 0) + 1
  }
  const decodeChecked = async (file: SourceFile, id: string, formats: Record<string, number>) => {
    let decoded
    try {
      decoded = await decodePng(await file.read(), file.where)
    } catch (e) {
      if (e instanceof TgsDataError && e.code === 'CORRUPT_PNG') {
        problem({ code: 'CORRUPT_PNG', id, file: file.where, message: e.message })
        return undefined
      }
      throw e
    }
    if (decoded.width !== width || decoded.height !== height) {
      problem({
        code: 'WRONG_SIZE',
        id,
        file: file.where,
        message: `${file.where} is ${decoded.width}×${decoded.height}, expected ${width}×${height}; fix or remove it (pass { size } if your data has another size).`,
      })
      return undefined
    }
    count(formats, decoded.bitDepth, decoded.channels)
    return decoded
  }

  const pairs = await mapLimit(ids, opts.concurrency, async (id): Promise<TgsSample | undefined> => {
    const img = await decodeChecked(trainImages.get(id)!, id, imageFormats)
    let mask: Uint8Array | undefined
    if (maskSource === 'files') {
      const m = await decodeChecked(trainMasks.get(id)!, id, maskFormats)
      if (m === undefined) return undefined
      mask = new Uint8Array(m.pixels.length)
      for (let i = 0; i < mask.length; i++) mask[i] = m.pixels[i]! > 0 ? 1 : 0
      const row = csv?.rows.get(id)
      if (row !== undefined) checkCsvAgrees(row, mask, id, csv!.where, { height, width })
    } else {
      mask = decodeCsvMask(csv!.rows.get(id)!, csv!.where, id, { height, width })
    }
    if (img === undefined) return undefined
    const coverage = maskCoverage(mask)
    return { id, image: img.pixels, mask, depth: depthOf(id), coverage, coverageClass: coverageClass(coverage), height, width }
  })
  const train = pairs.filter((s): s is TgsSample => s !== undefined)

  const testIds = [...testImages.keys()].sort()
  const tests = await mapLimit(testIds, opts.concurrency, async (id): Promise<TgsTestImage | undefined> => {
    const img = await decodeChecked(testImages.get(id)!, id, imageFormats)
    return img && { id, image: img.pixels, depth: depthOf(id), height, width }
  })
  const test = tests.filter((s): s is TgsTestImage => s !== undefined)

  const bad = skipped.filter((p) => p.code !== 'MISSING_DEPTH')
  if (opts.onInvalid === 'error' && bad.length > 0) {
    const list = bad
      .slice(0, 10)
      .map((p) => `  ${p.message}`)
      .join('\n')
    const more = bad.length > 10 ? `\n  … and ${bad.length - 10} more` : ''
    throw new TgsDataError(
      bad[0]!.code,
      `${src.path}: ${bad.length} file(s) cannot be used:\n${list}${more}\nFix or remove them, or pass { onInvalidFile: 'skip' } (CLI: --skip-bad) to go on without them.`,
      { file: bad[0]!.file, problems: bad },
    )
  }
  if (train.length === 0 && test.length === 0) {
    throw new TgsDataError(
      'NO_SAMPLES',
      `${src.path}: no usable train or test image was found${skipped.length > 0 ? ` (${skipped.length} skipped; first: ${skipped[0]!.message})` : ''}.`,
      { file: src.path },
    )
  }
  return {
    train,
    test,
    report: {
      source: src.path,
      trainCount: train.length,
      testCount: test.length,
      emptyMasks: train.filter((s) => s.coverage === 0).length,
      maskSource,
      imageFormats,
      maskFormats,
      skipped,
      notes,
    },
  }
}

function listPngs(src: DatasetSource, folder: string): Map<string, SourceFile> {
  const out = new Map<string, SourceFile>()
  const seen = new Map<string, string>()
  for (const [key, file] of src.files) {
    if (!key.startsWith(folder)) continue
    const name = key.slice(folder.length)
    const m = PNG_ID.exec(name)
    if (!m || name.includes('/')) continue
    const id = m[1]!
    const folded = id.toLowerCase()
    const earlier = seen.get(folded)
    if (earlier !== undefined) {
      throw new TgsDataError(
        'DUPLICATE_ID',
        `${file.where} and ${earlier} are the same id ${id} in ${folder}; keep one of them.`,
        { file: file.where },
      )
    }
    seen.set(folded, file.where)
    out.set(id, file)
  }
  return out
}

interface DepthTable {
  where: string
  values: Map<string, number>
}

async function readDepths(src: DatasetSource): Promise<DepthTable | undefined> {
  const file = src.files.get('depths.csv')
  if (file === undefined) return undefined
  const rows = parseCsv((await file.read()).toString('utf8'), file.where, ['id', 'z'])
  const values = new Map<string, number>()
  const lines = new Map<string, number>()
  for (const { line, fields } of rows) {
    const [id, z] = fields as [string, string]
    const depth = Number(z)
    if (z === '' || !Number.isFinite(depth)) {
      throw new TgsDataError('BAD_CSV', `${file.where} line ${line}: depth "${z}" of ${id} is not a number; fix the row.`, { file: file.where })
    }
    const earlier = lines.get(id)
    if (earlier !== undefined) {
      throw new TgsDataError('DUPLICATE_ID', `${file.where} lines ${earlier} and ${line} both give a depth for ${id}; keep one row.`, {
        file: file.where,
      })
    }
    lines.set(id, line)
    values.set(id, depth)
  }
  return { where: file.where, values }
}

interface TrainCsv {
  where: string
  rows: Map<string, { line: number; rle: string }>
}

async function readTrainCsv(src: DatasetSource): Promise<TrainCsv | undefined> {
  const file = src.files.get('train.csv')
  if (file === undefined) return undefined
  const rows = new Map<string, { line: number; rle: string }>()
  for (const { line, fields } of parseCsv((await file.read()).toString('utf8'), file.where, ['id', 'rle_mask'])) {
    const [id, rle] = fields as [string, string]
    const earlier = rows.get(id)
    if (earlier !== undefined) {
      throw new TgsDataError('DUPLICATE_ID', `${file.where} lines ${earlier.line} and ${line} both hold id ${id}; keep one row.`, { file: file.where })
    }
    rows.set(id, { line, rle })
  }
  return { where: file.where, rows }
}

function decodeCsvMask(row: { line: number; rle: string }, where: string, id: string, shape: { height: number; width: number }): Uint8Array {
  try {
    return decodeRle(row.rle, shape)
  } catch (cause) {
    throw new TgsDataError('BAD_CSV', `${where} line ${row.line}: the RLE of ${id} is invalid (${(cause as Error).message}); fix the row.`, {
      cause,
      file: where,
    })
  }
}

function checkCsvAgrees(
  row: { line: number; rle: string },
  mask: Uint8Array,
  id: string,
  where: string,
  shape: { height: number; width: number },
): void {
  const fromCsv = decodeCsvMask(row, where, id, shape)
  let differ = 0
  for (let i = 0; i < mask.length; i++) if (fromCsv[i] !== mask[i]) differ++
  if (differ > 0) {
    throw new TgsDataError(
      'CSV_MASK_MISMATCH',
      `${where} line ${row.line}: the RLE of ${id} disagrees with train/masks/${id}.png in ${differ} pixel(s); one of them is wrong: regenerate train.csv from the masks (or the masks from train.csv).`,
      { file: where },
    )
  }
}

/** Options of {@link readTgsTestImages}. */
export interface ReadTgsTestOptions {
  /** Images per chunk handed out. Default 256. */
  chunkSize?: number
  /** As {@link ReadTgsOptions.missingDepths}: default `'auto'` (no depths.csv is fine; a depths.csv missing some test ids stops). */
  missingDepths?: 'auto' | 'error' | 'nan'
  /** Expected image size. Default 101 × 101. */
  size?: { height: number; width: number }
  /** PNG decodes in flight at once (default 8). */
  concurrency?: number
}

/**
 * Streams the test images of a TGS folder or zip in chunks, sorted by id, so
 * that predicting Kaggle's 18,000 test images never holds them all in memory.
 * A corrupt or mis-sized test image stops the stream (a submission needs every id).
 *
 * @param source - the dataset folder, or a `.zip`
 * @param options - `chunkSize` (256), `missingDepths`, `size`, `concurrency`
 * @returns an async iterable of arrays of test images
 * @example
 * ```ts
 * for await (const chunk of readTgsTestImages('./tgs.zip', { chunkSize: 128 })) {
 *   const xs = toInputTensor(chunk, { size: 128, mode: 'pad' })
 *   // predict, fromModelSize, encode, write rows …
 *   xs.dispose()
 * }
 * ```
 */
export async function* readTgsTestImages(source: string, options: ReadTgsTestOptions = {}): AsyncGenerator<TgsTestImage[]> {
  const chunkSize = options.chunkSize ?? 256
  const concurrency = options.concurrency ?? 8
  const { height, width } = options.size ?? { height: 101, width: 101 }
  checkOption(Number.isInteger(chunkSize) && chunkSize > 0, `chunkSize must be a positive integer, got ${chunkSize}`)
  checkOption(Number.isInteger(concurrency) && concurrency > 0, `concurrency must be a positive integer, got ${concurrency}`)
  const missingDepths = options.missingDepths ?? 'auto'
  // Predicting needs test/ only: a damaged train.zip must not stop it.
  const src = await openDatasetSource(source, { skipZip: TRAIN_ZIP })
  try {
    const images = listPngs(src, 'test/images/')
    const depths = await readDepths(src)
    const ids = [...images.keys()].sort()
    if (missingDepths === 'error' || (missingDepths === 'auto' && depths !== undefined)) {
      const missing = ids.filter((id) => !depths?.values.has(id))
      if (missing.length > 0) {
        throw new TgsDataError(
          'MISSING_DEPTH',
          `${depths ? 'depths.csv' : `${src.path} has no depths.csv and`} has no depth for ${missing.length} test id(s): ${missing.slice(0, 5).join(', ')}; add them, or pass { missingDepths: 'nan' }.`,
          { file: depths?.where ?? src.path },
        )
      }
    }
    for (let start = 0; start < ids.length; start += chunkSize) {
      yield await mapLimit(ids.slice(start, start + chunkSize), concurrency, async (id) => {
        const file = images.get(id)!
        const decoded = await decodePng(await file.read(), file.where)
        if (decoded.width !== width || decoded.height !== height) {
          throw new TgsDataError('WRONG_SIZE', `${file.where} is ${decoded.width}×${decoded.height}, expected ${width}×${height}; fix or pass { size }.`, {
            file: file.where,
          })
        }
        return { id, image: decoded.pixels, depth: depths?.values.get(id) ?? Number.NaN, height, width }
      })
    }
  } finally {
    await src.close()
  }
}
