import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { decodeImage, IMAGE_EXTENSIONS, openDataset, openSource, type ImageSample, type SampleEntry, type SkippedFile } from '@unet/data'
import { streamSubmission } from '@unet/rle'
import { PredictError } from './errors'
import { headerOf } from './merge'

/** Images to predict, listed but not decoded. */
export interface InputSet {
  /** What was opened (for messages). */
  readonly source: string
  /** The layout found: `tgs`, `carvana`, `folders`, or `images` for a plain folder. */
  readonly layout: string
  /** The images, in the order their rows are written (sample_submission.csv's when there is one, else by id). */
  readonly entries: SampleEntry[]
  /** Decodes one image at its own size. */
  loadImage(entry: SampleEntry): Promise<ImageSample>
  /** Files seen but not listed (links that could not be followed, pairing problems that do not matter here). */
  readonly problems: SkippedFile[]
  /** Things worth telling the user. */
  readonly notes: string[]
  /** sample_submission.csv of the dataset, when it has one. */
  readonly sampleSubmission: string | null
  close(): Promise<void>
}

const ZIP_TRAIN = /(^|\/)train[^/]*\.zip$/i

/**
 * Opens what `--data` or `--images` names.
 * - `data`: any layout @unet/data detects; its test images, or all its images when it has no test set.
 *   Train zips are left unopened when there is a test set (a damaged train.zip must not stop a prediction).
 * - `images`: a plain folder (or zip) of images of any format and size, grey or RGB; other files are ignored.
 *
 * @param input - exactly one of `data` and `images`
 * @param idColumn - the submission's id column, to read sample_submission.csv
 * @param idSuffix - what the submission appends to each image's stem (`.jpg` for Carvana)
 * @returns the listed images
 */
export async function openInputs(input: { data?: string; images?: string }, format: { idColumn: string; idSuffix: string }): Promise<InputSet> {
  if ((input.data === undefined) === (input.images === undefined)) {
    throw new PredictError('BAD_OPTION', 'give the images to predict with exactly one of --data DIR (a dataset) or --images DIR (a folder of images)')
  }
  let set: Omit<InputSet, 'entries' | 'sampleSubmission'> & { entries: SampleEntry[] }
  if (input.images !== undefined) {
    const src = await openSource(input.images)
    const notes = [...src.notes]
    let ignored = 0
    const entries: SampleEntry[] = []
    const ids = new Map<string, string>()
    for (const [key, file] of src.files) {
      if (key.includes('/')) continue
      const m = /^(.*)\.([A-Za-z0-9]+)$/.exec(key)
      if (!m || !IMAGE_EXTENSIONS.includes((m[2] as string).toLowerCase())) {
        if (!key.startsWith('.')) ignored++
        continue
      }
      const id = m[1] as string
      const earlier = ids.get(id)
      if (earlier !== undefined) {
        await src.close()
        throw new PredictError('BAD_OPTION', `${file.where} and ${earlier} have the same name ${id}; their outputs would collide: keep one of them`)
      }
      ids.set(id, file.where)
      entries.push({ id, image: file })
    }
    if (ignored > 0) notes.push(`${ignored} file(s) in ${input.images} are not images (${IMAGE_EXTENSIONS.join(', ')}) and were ignored`)
    entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    set = {
      source: input.images,
      layout: 'images',
      entries,
      problems: [...src.problems],
      notes,
      loadImage: async (entry) => {
        const img = await decodeImage(await entry.image.read(), entry.image.where)
        return { id: entry.id, image: img.data, width: img.width, height: img.height, channels: img.channels, original: { width: img.width, height: img.height }, format: img.format }
      },
      close: () => src.close(),
    }
  } else {
    const path = input.data as string
    let dataset = await openDataset(path, { onBadFile: 'skip', source: { skipZip: (p) => ZIP_TRAIN.test(p) } }).catch(() => null)
    if (dataset === null || dataset.test.length === 0) {
      await dataset?.close()
      dataset = await openDataset(path, { onBadFile: 'skip' })
    }
    const useTest = dataset.test.length > 0
    // predicting the test set, what the reader says about train images and masks (pairs, CSV masks) is beside
    // the point; predicting the labelled images, it is said
    const pairing = new Set(['IMAGE_WITHOUT_MASK', 'MASK_WITHOUT_IMAGE', 'CSV_MASK_MISMATCH', 'BAD_CSV'])
    const notes = useTest ? [] : [...dataset.report.notes, `${path} has no test images: predicting its ${dataset.train.length} labelled images`]
    const d = dataset
    set = {
      source: d.source,
      layout: d.layout,
      entries: useTest ? d.test : d.train,
      problems: d.report.skipped.filter((p) => !useTest || !pairing.has(p.code)),
      notes,
      loadImage: (entry) => d.loadImage(entry),
      close: () => d.close(),
    }
  }
  const sample = input.data !== undefined && existsSync(join(input.data, 'sample_submission.csv')) ? join(input.data, 'sample_submission.csv') : null
  if (sample !== null) {
    try {
      set.entries = await inSampleOrder(set.entries, sample, format, set.notes)
    } catch (error) {
      await set.close()
      throw error
    }
  }
  return { ...set, sampleSubmission: sample }
}

/** The ids of a sample submission, in its order (whatever its header's names). */
export async function readSampleIds(path: string): Promise<string[]> {
  const ids: string[] = []
  try {
    const columns = await headerOf(path)
    for await (const row of streamSubmission(path, { columns, validateRle: false })) ids.push(row.id)
  } catch (cause) {
    throw new PredictError('BAD_OPTION', `cannot read ${path}: ${(cause as Error).message}`, { file: path, cause })
  }
  return ids
}

async function inSampleOrder(entries: SampleEntry[], sample: string, format: { idColumn: string; idSuffix: string }, notes: string[]): Promise<SampleEntry[]> {
  const ids = await readSampleIds(sample)
  const byId = new Map(entries.map((e) => [e.id + format.idSuffix, e]))
  const ordered: SampleEntry[] = []
  const noImage: string[] = []
  for (const id of ids) {
    const e = byId.get(id)
    if (e === undefined) noImage.push(id)
    else {
      ordered.push(e)
      byId.delete(id)
    }
  }
  if (noImage.length > 0) notes.push(`${sample} lists ${noImage.length} id(s) with no image (e.g. ${noImage[0]}): the submission will lack them`)
  if (byId.size > 0) {
    notes.push(`${byId.size} image(s) are not in ${sample} (e.g. ${[...byId.keys()][0]}): written after its rows`)
    ordered.push(...byId.values())
  }
  return ordered
}

/**
 * The ids a complete submission holds, in order: sample_submission.csv's when the dataset has one, else every
 * image's id with the submission's suffix. What `unet merge-submissions` checks the parts against.
 *
 * @param input - `data` or `images`, as for prediction
 * @param format - the submission's id column and suffix
 * @returns the ids
 */
export async function expectedIds(input: { data?: string; images?: string; sample?: string }, format: { idColumn: string; idSuffix: string }): Promise<string[]> {
  if (input.sample !== undefined) return readSampleIds(input.sample)
  if (input.data !== undefined && existsSync(join(input.data, 'sample_submission.csv'))) return readSampleIds(join(input.data, 'sample_submission.csv'))
  const set = await openInputs(input, format)
  try {
    return set.entries.map((e) => e.id + format.idSuffix)
  } finally {
    await set.close()
  }
}
