import { decode as decodeRle } from '@unet/rle'
import { mapLimit } from './concurrency'
import { parseCsv } from './csv'
import { decodeImage, decodeMask, readImageHeader } from './decode'
import { DataError, type SkippedFile, checkOption, throwIfBadFiles } from './errors'
import { prepareMask } from './prepare'
import { type DatasetSource, type OpenSourceOptions, type SourceFile, openSource } from './source'

/** The dataset layouts {@link detectLayout} recognises. */
export type Layout = 'tgs' | 'carvana' | 'folders'

/** The layouts, declared once (for CLI choices and messages). */
export const LAYOUTS: readonly Layout[] = ['tgs', 'carvana', 'folders']

/** Extensions read as images (through sharp). */
export const IMAGE_EXTENSIONS: readonly string[] = ['png', 'jpg', 'jpeg', 'gif', 'webp', 'tif', 'tiff']

/** Folder names tried for images and masks of the `folders` layout, in order. */
export const IMAGE_FOLDERS: readonly string[] = ['images', 'image', 'imgs', 'img', 'train/images']
export const MASK_FOLDERS: readonly string[] = ['masks', 'mask', 'labels', 'annotations', 'train/masks']

/** A train sample: an image at its own size with its 0/1 mask. */
export interface Sample {
  /** The file stem (Kaggle id). */
  id: string
  /** `height × width × channels` values in [0, 1], row-major, channels interleaved. */
  image: Float32Array
  /** `height × width` 0/1 values. */
  mask: Uint8Array
  width: number
  height: number
  /** 1 (grey), 3 (RGB) or more. */
  channels: number
  /** Size in the file (differs from width × height only when read resized). */
  original: { width: number; height: number }
  /** What splits keep together (Carvana: the car id). */
  group?: string
  /** The file format sharp found (`jpeg`, `png`, `gif`, …). */
  format?: string
}

/** An image without a mask (test images, images to predict). */
export interface ImageSample {
  id: string
  image: Float32Array
  width: number
  height: number
  channels: number
  original: { width: number; height: number }
  group?: string
  format?: string
}

/** One listed sample, not decoded yet: what the streaming loader and batcher read on demand. */
export interface SampleEntry {
  id: string
  image: SourceFile
  /** The mask file (absent for test images, or when masks come from an RLE CSV). */
  mask?: SourceFile
  /** The mask as RLE from a CSV (Carvana's `train_masks.csv`, TGS `train.csv`). */
  rle?: { rle: string; order: 'row-major' | 'column-major'; file: string; line: number }
  group?: string
}

/** What a reader found and what it left out. */
export interface ReadReport {
  source: string
  layout: Layout
  trainCount: number
  testCount: number
  /** Files left out, each with the reason (empty when everything was read). With `onBadFile: 'error'` (the default) the read stops instead. */
  skipped: SkippedFile[]
  /** Things worth knowing that left nothing out. */
  notes: string[]
  /** How many images had each format, e.g. `{ 'jpeg RGB': 5088 }` (decoded samples only). */
  formats: Record<string, number>
}

/** Options of {@link openDataset} and {@link readDataset}. */
export interface ReadOptions {
  /** Read as this layout instead of detecting it. */
  layout?: Layout
  /** `folders` layout: the images folder, relative to the dataset (default: the first of {@link IMAGE_FOLDERS} found). */
  images?: string
  /** `folders` layout: the masks folder (default: the first of {@link MASK_FOLDERS} found). */
  masks?: string
  /** Mask file stem from the image's: `'{stem}'` (default for folders), `'{stem}_mask'` (Carvana). Any image extension. */
  maskName?: string
  /** Foreground where the mask value is above this (8-bit units): `108` for whale-fluke JPEG masks. Default: masks must be binary. */
  maskThreshold?: number
  /**
   * A file that cannot be used (corrupt, truncated, empty, image and mask of
   * different sizes, non-binary mask, image without mask, mask without image):
   * `'error'` (default) reads everything, then stops with one `BAD_FILES`
   * error naming all of them; `'skip'` leaves them out and lists them in `report.skipped`.
   */
  onBadFile?: 'error' | 'skip'
  /** List test images too (default true). They are never decoded by {@link readDataset}: load them with {@link loadImages}. */
  test?: boolean
  /** Read only the first `limit` train ids (sorted), for quick runs. */
  limit?: number
  /** Decodes in flight at once (default 4; sharp also uses its own thread pool). */
  concurrency?: number
  /** Carvana: check masks against `train_masks.csv` (default true). */
  crossCheck?: boolean
  /** Passed to {@link openSource}. */
  source?: OpenSourceOptions
}

/** A dataset listed and paired, not decoded: for data bigger than memory. */
export interface Dataset {
  source: string
  layout: Layout
  train: SampleEntry[]
  test: SampleEntry[]
  report: ReadReport
  /**
   * Decodes one train sample (image and mask, checked against each other).
   * `resize` has sharp resize the image while decoding (JPEG shrink-on-load) and
   * the mask follow (bilinear, then ≥ 0.5); `original` keeps the size in the file.
   */
  load(entry: SampleEntry, options?: { resize?: { width: number; height: number } }): Promise<Sample>
  /**
   * Decodes one train sample's mask alone (0/1, at the image's size, which is read from the image's header and
   * checked): what `load` gives as `mask`, without decoding the photo, e.g. to stratify a split by coverage
   * over data bigger than memory. `channels` is what `load` will give the image (1 grey, 3 colour).
   */
  loadMask(entry: SampleEntry): Promise<{ mask: Uint8Array; width: number; height: number; channels: number }>
  /** Decodes one image (no mask). */
  loadImage(entry: SampleEntry): Promise<ImageSample>
  /** Releases open zips. */
  close(): Promise<void>
}

const EXT = /^(.*)\.([A-Za-z0-9]+)$/

function splitName(name: string): { stem: string; ext: string } | undefined {
  const m = EXT.exec(name)
  if (!m || !IMAGE_EXTENSIONS.includes(m[2]!.toLowerCase())) return undefined
  return { stem: m[1]!, ext: m[2]!.toLowerCase() }
}

/** Files directly inside `folder` (no sub-folders), by stem. Duplicate stems stop the read. */
function listImages(src: DatasetSource, folder: string, notes: string[]): Map<string, SourceFile> {
  const prefix = folder === '' ? '' : folder.replace(/\/?$/, '/')
  const out = new Map<string, SourceFile>()
  let ignored = 0
  let example = ''
  for (const [key, file] of src.files) {
    if (!key.startsWith(prefix)) continue
    const name = key.slice(prefix.length)
    if (name.includes('/')) continue
    const parts = splitName(name)
    if (parts === undefined) {
      if (!name.startsWith('.')) {
        ignored++
        example ||= name
      }
      continue
    }
    const earlier = out.get(parts.stem)
    if (earlier !== undefined) {
      throw new DataError('DUPLICATE_ID', `${file.where} and ${earlier.where} have the same name ${parts.stem}; keep one of them.`, { file: file.where })
    }
    out.set(parts.stem, file)
  }
  if (ignored > 0) notes.push(`${prefix || './'}: ${ignored} file(s) that are not images were ignored (e.g. ${example})`)
  return out
}

function hasFolder(src: DatasetSource, folder: string): boolean {
  const prefix = folder.replace(/\/?$/, '/')
  for (const key of src.files.keys()) if (key.startsWith(prefix) && splitName(key.slice(prefix.length)) && !key.slice(prefix.length).includes('/')) return true
  return false
}

/** What {@link detectLayout} found. */
export interface DetectedLayout {
  layout: Layout
  /** `folders`: the images and masks folders found. */
  images?: string
  masks?: string
}

/**
 * Recognises a dataset's layout from its file names alone:
 * `tgs` (`train/images/*.png` with `train/masks` or `train.csv`, or `depths.csv`),
 * `carvana` (`train/*.jpg` with `train_masks/` or `train_masks.csv`),
 * or `folders` (an images folder and a masks folder, see {@link IMAGE_FOLDERS}).
 *
 * @param src - an opened source (see {@link openSource})
 * @returns the layout (and folders)
 * @example
 * ```ts
 * const src = await openSource('/data/whales')
 * detectLayoutOf(src) // { layout: 'folders', images: 'images', masks: 'masks' }
 * ```
 */
export function detectLayoutOf(src: DatasetSource): DetectedLayout {
  const has = (key: string): boolean => src.files.has(key)
  if ((hasFolder(src, 'train/images') && (hasFolder(src, 'train/masks') || has('train.csv'))) || has('depths.csv')) return { layout: 'tgs' }
  if (hasFolder(src, 'train') && (hasFolder(src, 'train_masks') || has('train_masks.csv'))) return { layout: 'carvana' }
  const images = IMAGE_FOLDERS.find((f) => hasFolder(src, f))
  const masks = MASK_FOLDERS.find((f) => hasFolder(src, f))
  if (images !== undefined && masks !== undefined) return { layout: 'folders', images, masks }
  const top = [...new Set([...src.files.keys()].map((k) => (k.includes('/') ? k.slice(0, k.indexOf('/') + 1) : k)))].sort()
  throw new DataError(
    'UNKNOWN_LAYOUT',
    `${src.path}: not a dataset layout I know. Looked for: TGS (train/images/ + train/masks/ or train.csv, or depths.csv), ` +
      `Carvana (train/*.jpg + train_masks/ or train_masks.csv), folders (one of ${IMAGE_FOLDERS.join(', ')} + one of ${MASK_FOLDERS.join(', ')}). ` +
      `Found: ${top.length === 0 ? 'no files' : top.slice(0, 12).join(', ') + (top.length > 12 ? `, … (${top.length} in all)` : '')}. ` +
      `Point at the folder holding them, or name the folders (--images, --masks).`,
    { file: src.path },
  )
}

/**
 * {@link detectLayoutOf} on a folder or zip path.
 *
 * @param path - the dataset folder or zip
 * @returns `'tgs' | 'carvana' | 'folders'`
 * @example
 * ```ts
 * await detectLayout('/data/carvana') // 'carvana'
 * ```
 */
export async function detectLayout(path: string): Promise<Layout> {
  const src = await openSource(path)
  try {
    return detectLayoutOf(src).layout
  } finally {
    await src.close()
  }
}

/**
 * Lists and pairs a dataset without decoding it (for data bigger than memory):
 * train entries with their masks, test entries, and a report of unpaired files.
 * `load(entry)` decodes one sample on demand. Layouts: Carvana (`train/`,
 * `train_masks/*_mask.gif`, `train_masks.csv`, `test/`), folder pairs (images
 * and masks matched by stem, `maskName` pattern), and the TGS folders (as pairs;
 * `@unet/data-tgs` adds depths, `train.csv` and coverage classes). Folders and zips.
 *
 * @param path - the dataset folder or zip
 * @param options - see {@link ReadOptions}
 * @returns the listed dataset; call `close()` when done
 * @example
 * ```ts
 * const data = await openDataset('/data/carvana', { test: false })
 * const first = await data.load(data.train[0]!)
 * await data.close()
 * ```
 */
export async function openDataset(path: string, options: ReadOptions = {}): Promise<Dataset> {
  const onBad = options.onBadFile ?? 'error'
  checkOption(onBad === 'error' || onBad === 'skip', `onBadFile must be 'error' or 'skip', got ${String(onBad)}`)
  checkOption(options.layout === undefined || LAYOUTS.includes(options.layout), `layout must be one of ${LAYOUTS.join(', ')}, got ${String(options.layout)}`)
  checkOption(
    options.maskThreshold === undefined || (Number.isFinite(options.maskThreshold) && options.maskThreshold >= 0),
    `maskThreshold must be a number ≥ 0 (8-bit units), got ${String(options.maskThreshold)}`,
  )
  checkOption(options.maskName === undefined || options.maskName.includes('{stem}'), `maskName must contain {stem}, e.g. '{stem}_mask', got ${String(options.maskName)}`)
  const src = await openSource(path, options.source)
  try {
    return await list(src, options, onBad)
  } catch (e) {
    await src.close()
    throw e
  }
}

async function list(src: DatasetSource, options: ReadOptions, onBad: 'error' | 'skip'): Promise<Dataset> {
  const skipped: SkippedFile[] = [...src.problems]
  const notes: string[] = [...src.notes]
  const detected: DetectedLayout =
    options.layout === undefined
      ? options.images !== undefined && options.masks !== undefined
        ? { layout: 'folders', images: options.images, masks: options.masks }
        : detectLayoutOf(src)
      : { layout: options.layout }
  const layout = detected.layout
  let imagesFolder: string
  let masksFolder: string
  let testFolder: string | undefined
  let maskName = options.maskName ?? '{stem}'
  let rleCsv: { name: string; order: 'row-major' | 'column-major'; header: [string, string]; idSuffix: RegExp } | undefined
  if (layout === 'carvana') {
    imagesFolder = options.images ?? 'train'
    masksFolder = options.masks ?? 'train_masks'
    testFolder = 'test'
    maskName = options.maskName ?? '{stem}_mask'
    rleCsv = { name: 'train_masks.csv', order: 'row-major', header: ['img', 'rle_mask'], idSuffix: /\.jpg$/i }
  } else if (layout === 'tgs') {
    imagesFolder = options.images ?? 'train/images'
    masksFolder = options.masks ?? 'train/masks'
    testFolder = 'test/images'
    rleCsv = { name: 'train.csv', order: 'column-major', header: ['id', 'rle_mask'], idSuffix: /$^/ }
  } else {
    imagesFolder = options.images ?? detected.images ?? IMAGE_FOLDERS.find((f) => hasFolder(src, f)) ?? 'images'
    masksFolder = options.masks ?? detected.masks ?? MASK_FOLDERS.find((f) => hasFolder(src, f)) ?? 'masks'
    testFolder = ['test', 'test/images'].find((f) => f !== imagesFolder && hasFolder(src, f))
  }
  const images = listImages(src, imagesFolder, notes)
  const masks = listImages(src, masksFolder, notes)
  const tests = options.test === false || testFolder === undefined ? new Map<string, SourceFile>() : listImages(src, testFolder, notes)
  if (images.size === 0 && tests.size === 0) {
    throw new DataError(
      'EMPTY_FOLDER',
      `${src.path}: ${imagesFolder}/ holds no images (${IMAGE_EXTENSIONS.join(', ')})${skipped.length > 0 ? `; ${skipped.length} link(s) could not be followed: ${skipped[0]!.file}` : ''}; point at the dataset folder, or name the images folder.`,
      { file: src.path },
    )
  }

  // RLE masks from a CSV (used when there are no mask files; else a cross-check).
  const rles = new Map<string, { rle: string; line: number }>()
  let rleFile: string | undefined
  if (rleCsv !== undefined) {
    const file = src.files.get(rleCsv.name)
    if (file !== undefined) {
      rleFile = file.where
      for (const { line, fields } of parseCsv((await file.read()).toString('utf8'), file.where, rleCsv.header)) {
        const id = fields[0]!.replace(rleCsv.idSuffix, '')
        if (rles.has(id)) {
          throw new DataError('DUPLICATE_ID', `${file.where} lines ${rles.get(id)!.line} and ${line} both hold ${id}; keep one row.`, { file: file.where })
        }
        rles.set(id, { rle: fields[1]!, line })
      }
    }
  }

  const maskStem = (stem: string): string => maskName.replaceAll('{stem}', stem)
  const maskIds = new Map<string, string>()
  for (const stem of images.keys()) maskIds.set(maskStem(stem), stem)
  for (const [stem, file] of masks) {
    if (!maskIds.has(stem)) {
      skipped.push({ file: file.where, code: 'MASK_WITHOUT_IMAGE', reason: `mask ${stem} has no image in ${imagesFolder}/ (masks are named ${maskName} after their image); add the image or remove the mask` })
    }
  }
  const useRle = masks.size === 0 && rles.size > 0
  if (useRle) notes.push(`no ${masksFolder}/ files: masks are decoded from ${rleFile}`)
  const group = layout === 'carvana' ? (id: string) => id.replace(/_\d+$/, '') : undefined
  let train: SampleEntry[] = []
  for (const id of [...images.keys()].sort()) {
    const image = images.get(id)!
    const mask = masks.get(maskStem(id))
    const rle = rles.get(id)
    if (mask === undefined && !(useRle && rle !== undefined)) {
      skipped.push({ file: image.where, id, code: 'IMAGE_WITHOUT_MASK', reason: `image ${id} has no mask ${masksFolder}/${maskStem(id)}.*; add the mask or remove the image` })
      continue
    }
    train.push({
      id,
      image,
      ...(mask ? { mask } : {}),
      ...(rle && rleCsv && options.crossCheck !== false ? { rle: { ...rle, order: rleCsv.order, file: rleFile! } } : {}),
      ...(group ? { group: group(id) } : {}),
    })
  }
  if (rles.size > 0 && !useRle && options.crossCheck !== false) {
    const missing = train.filter((e) => !rles.has(e.id))
    if (missing.length > 0) notes.push(`${rleFile} has no row for ${missing.length} train image(s) (e.g. ${missing[0]!.id}); those were not cross-checked`)
  }
  if (options.limit !== undefined) {
    checkOption(Number.isInteger(options.limit) && options.limit >= 0, `limit must be a non-negative integer, got ${options.limit}`)
    train = train.slice(0, options.limit)
  }
  const test: SampleEntry[] = [...tests.keys()].sort().map((id) => ({ id, image: tests.get(id)!, ...(group ? { group: group(id) } : {}) }))
  if (onBad === 'error') throwIfBadFiles(skipped, src.path, "pass { onBadFile: 'skip' } (CLI: --skip-bad) to go on without them")
  const threshold = options.maskThreshold

  /** The mask of `entry` at the image's own size `own`, checked against it (and against the CSV's RLE). */
  const maskOf = async (entry: SampleEntry, own: { width: number; height: number }): Promise<Uint8Array> => {
    if (entry.mask) {
      const m = await decodeMask(await entry.mask.read(), entry.mask.where, threshold === undefined ? {} : { threshold })
      if (m.width !== own.width || m.height !== own.height) {
        throw new DataError(
          'SIZE_MISMATCH',
          `${entry.mask.where} is ${m.width}×${m.height} but its image ${entry.image.where} is ${own.width}×${own.height}; a mask must match its image: fix or remove the pair.`,
          { file: entry.mask.where },
        )
      }
      if (entry.rle) checkAgainstRle(m.data, entry, own)
      return m.data
    }
    if (entry.rle) return rleMask(entry.rle, entry.id, own)
    throw new DataError('IMAGE_WITHOUT_MASK', `${entry.image.where} has no mask; it cannot be a train sample.`, { file: entry.image.where })
  }
  const load = async (entry: SampleEntry, loadOptions: { resize?: { width: number; height: number } } = {}): Promise<Sample> => {
    const img = await decodeImage(await entry.image.read(), entry.image.where, loadOptions.resize ? { resize: loadOptions.resize } : {})
    const own = img.original
    let mask = await maskOf(entry, own)
    if (img.width !== own.width || img.height !== own.height) {
      mask = prepareMask(mask, own, { width: img.width, height: img.height, mode: 'resize' })
    }
    return {
      id: entry.id,
      image: img.data,
      mask,
      width: img.width,
      height: img.height,
      channels: img.channels,
      original: own,
      ...(entry.group !== undefined ? { group: entry.group } : {}),
      format: img.format,
    }
  }
  const loadMask = async (entry: SampleEntry): Promise<{ mask: Uint8Array; width: number; height: number; channels: number }> => {
    const own = await readImageHeader(await entry.image.read(), entry.image.where)
    // decodeImage keeps grey (and grey + alpha) as one channel and gives three otherwise
    return { mask: await maskOf(entry, own), width: own.width, height: own.height, channels: own.channels <= 2 ? 1 : 3 }
  }
  const loadImage = async (entry: SampleEntry): Promise<ImageSample> => {
    const img = await decodeImage(await entry.image.read(), entry.image.where)
    return {
      id: entry.id,
      image: img.data,
      width: img.width,
      height: img.height,
      channels: img.channels,
      original: img.original,
      ...(entry.group !== undefined ? { group: entry.group } : {}),
      format: img.format,
    }
  }
  return {
    source: src.path,
    layout,
    train,
    test,
    report: { source: src.path, layout, trainCount: train.length, testCount: test.length, skipped, notes, formats: {} },
    load,
    loadMask,
    loadImage,
    close: () => src.close(),
  }
}

function rleMask(rle: NonNullable<SampleEntry['rle']>, id: string, shape: { width: number; height: number }): Uint8Array {
  try {
    return decodeRle(rle.rle, { height: shape.height, width: shape.width }, { order: rle.order })
  } catch (cause) {
    throw new DataError('BAD_CSV', `${rle.file} line ${rle.line}: the RLE of ${id} is invalid for ${shape.width}×${shape.height} (${(cause as Error).message}); fix the row.`, {
      cause,
      file: rle.file,
    })
  }
}

function checkAgainstRle(mask: Uint8Array, entry: SampleEntry, shape: { width: number; height: number }): void {
  const fromCsv = rleMask(entry.rle!, entry.id, shape)
  let differ = 0
  for (let i = 0; i < mask.length; i++) if (fromCsv[i] !== mask[i]) differ++
  if (differ > 0) {
    throw new DataError(
      'CSV_MASK_MISMATCH',
      `${entry.rle!.file} line ${entry.rle!.line}: the RLE of ${entry.id} disagrees with ${entry.mask!.where} in ${differ} pixel(s); one of them is wrong: regenerate the CSV from the masks, or pass { crossCheck: false }.`,
      { file: entry.rle!.file },
    )
  }
}

/** The problem a failed decode stands for, as a report entry (or undefined when it is not about one file). */
function asSkipped(e: unknown, id: string): SkippedFile | undefined {
  if (e instanceof DataError && e.file !== undefined && ['CORRUPT_IMAGE', 'SIZE_MISMATCH', 'NON_BINARY_MASK', 'ZIP_ERROR', 'CSV_MASK_MISMATCH', 'BAD_CSV', 'WRONG_SIZE'].includes(e.code)) {
    return { file: e.file, id, code: e.code, reason: e.message }
  }
  return undefined
}

function formatKey(channels: number, format: string): string {
  return `${format} ${channels === 1 ? 'grey' : channels === 3 ? 'RGB' : `${channels} channels`}`
}

/** The result of {@link readDataset}. */
export interface ReadDataset {
  /** Decoded train samples, sorted by id. */
  train: Sample[]
  /** Test images, listed but not decoded (Carvana has 100,064): decode them with {@link loadImages}. */
  test: SampleEntry[]
  report: ReadReport
  /** The listed dataset, for {@link loadImages} on `test`. Close it when done. */
  dataset: Dataset
}

/**
 * Reads a dataset into memory: lists and pairs it ({@link openDataset}), then
 * decodes every train sample once, checking each pair. Every bad file (corrupt,
 * truncated, empty, size mismatch, non-binary mask, unpaired) is found first;
 * then, with `onBadFile: 'error'` (default), one `BAD_FILES` error names them
 * all; with `'skip'` they are listed in `report.skipped` and the rest is returned.
 *
 * @param path - the dataset folder or zip
 * @param options - see {@link ReadOptions}
 * @returns decoded train samples, listed test images, and the report
 * @example
 * ```ts
 * const { train, report, dataset } = await readDataset('/data/whales', { maskThreshold: 108 })
 * console.log(train.length, report.skipped)
 * await dataset.close()
 * ```
 */
export async function readDataset(path: string, options: ReadOptions = {}): Promise<ReadDataset> {
  const onBad = options.onBadFile ?? 'error'
  const concurrency = options.concurrency ?? 4
  checkOption(Number.isInteger(concurrency) && concurrency > 0, `concurrency must be a positive integer, got ${concurrency}`)
  // List leniently: unpaired files join the decode problems, so one error names everything.
  const dataset = await openDataset(path, { ...options, onBadFile: 'skip' })
  try {
    const { report } = dataset
    const decoded = await mapLimit(dataset.train, concurrency, async (entry) => {
      try {
        return await dataset.load(entry)
      } catch (e) {
        const problem = asSkipped(e, entry.id)
        if (problem === undefined) throw e
        report.skipped.push(problem)
        return undefined
      }
    })
    const train = decoded.filter((s): s is Sample => s !== undefined)
    for (const s of train) {
      const key = formatKey(s.channels, s.format ?? 'unknown')
      report.formats[key] = (report.formats[key] ?? 0) + 1
    }
    report.trainCount = train.length
    if (onBad === 'error') throwIfBadFiles(report.skipped, dataset.source, "pass { onBadFile: 'skip' } (CLI: --skip-bad) to go on without them")
    if (train.length === 0 && dataset.test.length === 0) {
      throw new DataError('NO_SAMPLES', `${dataset.source}: no usable sample (${report.skipped.length} skipped${report.skipped[0] ? `; first: ${report.skipped[0].file}: ${report.skipped[0].reason}` : ''}).`, {
        file: dataset.source,
        problems: report.skipped,
      })
    }
    return { train, test: dataset.test, report, dataset }
  } catch (e) {
    await dataset.close()
    throw e
  }
}

/**
 * Decodes images in chunks, in order, with bounded memory: for predicting
 * Carvana's 100,064 test photos without holding them all.
 *
 * @param dataset - an opened dataset
 * @param entries - which images (e.g. `dataset.test`)
 * @param options - `chunkSize` (default 16), `concurrency` (default 4)
 * @returns an async iterable of arrays of decoded images
 * @example
 * ```ts
 * for await (const chunk of loadImages(dataset, dataset.test, { chunkSize: 8 })) {
 *   for (const img of chunk) predict(prepareImage(img.image, img, spec))
 * }
 * ```
 */
export async function* loadImages(
  dataset: Pick<Dataset, 'loadImage'>,
  entries: readonly SampleEntry[],
  options: { chunkSize?: number; concurrency?: number } = {},
): AsyncGenerator<ImageSample[]> {
  const chunkSize = options.chunkSize ?? 16
  const concurrency = options.concurrency ?? 4
  checkOption(Number.isInteger(chunkSize) && chunkSize > 0, `chunkSize must be a positive integer, got ${chunkSize}`)
  // The next chunk is decoded while the consumer works on this one: at most two chunks in memory.
  let next: Promise<ImageSample[]> | undefined
  const start = (from: number): Promise<ImageSample[]> => mapLimit(entries.slice(from, from + chunkSize), concurrency, (e) => dataset.loadImage(e))
  const begin = (from: number): Promise<ImageSample[]> => {
    const p = start(from)
    p.catch(() => undefined) // seen when awaited; a consumer that stops early must not leave an unhandled rejection
    return p
  }
  if (entries.length > 0) next = begin(0)
  for (let from = 0; from < entries.length; from += chunkSize) {
    const chunk = await next!
    next = from + chunkSize < entries.length ? begin(from + chunkSize) : undefined
    yield chunk
  }
}

/** Options of {@link checkEntries}. */
export interface CheckEntriesOptions {
  /**
   * `'headers'` (default) reads each image's and mask's header (sharp metadata:
   * fast, no pixels) and checks that it is an image and that sizes match;
   * `'full'` decodes every pair, as training would (truncated files, non-binary masks, CSV disagreements).
   */
  level?: 'headers' | 'full'
  /** Files in flight at once (default 8). */
  concurrency?: number
  /** As {@link ReadOptions.onBadFile}: `'error'` (default) throws one `BAD_FILES` naming every bad file. */
  onBadFile?: 'error' | 'skip'
}

/**
 * Checks listed samples before a long run over data bigger than memory, so a
 * bad file stops (or is reported) now rather than hours into training.
 *
 * @param dataset - from {@link openDataset}
 * @param entries - which samples to check (default all train samples)
 * @param options - `level`, `concurrency`, `onBadFile`
 * @returns the usable entries and the bad files (also added to `dataset.report.skipped`)
 * @example
 * ```ts
 * const data = await openDataset('/data/carvana', { onBadFile: 'skip' })
 * const { good, skipped } = await checkEntries(data, data.train, { onBadFile: 'skip' })
 * ```
 */
export async function checkEntries(
  dataset: Dataset,
  entries: readonly SampleEntry[] = dataset.train,
  options: CheckEntriesOptions = {},
): Promise<{ good: SampleEntry[]; skipped: SkippedFile[] }> {
  const level = options.level ?? 'headers'
  checkOption(level === 'headers' || level === 'full', `level must be 'headers' or 'full', got ${String(level)}`)
  const skipped: SkippedFile[] = []
  const ok = await mapLimit(entries, options.concurrency ?? 8, async (entry) => {
    try {
      if (level === 'full') await dataset.load(entry)
      else {
        const image = await readImageHeader(await entry.image.read(), entry.image.where)
        if (entry.mask) {
          const mask = await readImageHeader(await entry.mask.read(), entry.mask.where)
          if (mask.width !== image.width || mask.height !== image.height) {
            throw new DataError(
              'SIZE_MISMATCH',
              `${entry.mask.where} is ${mask.width}×${mask.height} but its image ${entry.image.where} is ${image.width}×${image.height}; a mask must match its image: fix or remove the pair.`,
              { file: entry.mask.where },
            )
          }
        }
      }
      return true
    } catch (e) {
      const problem = asSkipped(e, entry.id)
      if (problem === undefined) throw e
      skipped.push(problem)
      return false
    }
  })
  dataset.report.skipped.push(...skipped)
  if ((options.onBadFile ?? 'error') === 'error') throwIfBadFiles(skipped, dataset.source, "pass { onBadFile: 'skip' } (CLI: --skip-bad) to go on without them")
  return { good: entries.filter((_, i) => ok[i]), skipped }
}
