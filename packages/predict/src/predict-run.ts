import { dirname, resolve } from 'node:path'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { ensureFolder, outputKind } from '@unet/files'
import { encodePng, loadImages, matchChannels, prepareImage, restoreProbabilities, type ImageSample, type PrepareSpec, type SampleEntry } from '@unet/data'
import { encode, submissionChunks, type SubmissionRow } from '@unet/rle'
import { submissionFormat } from './convention'
import { PredictError } from './errors'
import { openInputs, type InputSet } from './inputs'
import { loadRunModels, type ModelSet, type RunFolder } from './run-folder'
import { StagedFolder, StreamedFile } from './outputs'
import { findComponents, postProcess, unionBox } from './postprocess'
import { predictProbabilities, resolveEmptyThreshold, type Models } from './probabilities'
import { cutOut, maskBytes, overlay, toBytes } from './render'
import type { RunFile } from './run-file'
import { partPath, shardOf, type Shard } from './shard'
import type { TtaView } from './tta'

/** Options of {@link predictRun}. Give at least one output. */
export interface PredictRunOptions {
  /** A dataset (any layout @unet/data detects): its test images, or all its images when it has none. */
  readonly data?: string
  /** A plain folder of images (any format and size, grey or RGB). */
  readonly images?: string
  /** Submission file (`.csv`, `.csv.gz`, `-` for standard output), in the dataset's convention. */
  readonly out?: string
  /** Folder for 0/255 mask PNGs at each image's own size, named after the image's stem. */
  readonly masksOut?: string
  /** Folder for 8-bit probability PNGs. */
  readonly probabilities?: string
  /** Folder for the images with their mask drawn over them. */
  readonly overlaysOut?: string
  /** Folder for the object cut out on white, cropped to the union of its components' boxes. */
  readonly cropsOut?: string
  /** JSON lines file: per image, its connected components with area and bounding box. */
  readonly boxes?: string
  /** `auto` (run.json's threshold, the default) or a probability. */
  readonly threshold?: 'auto' | number
  /** Threshold of the cut-outs (default 0.25: a cut-out would rather keep a little background than lose the object). */
  readonly cropThreshold?: number
  /** TTA views averaged with the plain one. */
  readonly tta?: readonly TtaView[]
  /** Remove components smaller than this (pixels at the image's own size). */
  readonly minArea?: number
  /** Fill holes in the masks. */
  readonly fillHoles?: boolean
  /** Override run.json's RLE pixel order. */
  readonly rleOrder?: 'row' | 'column'
  /** Override run.json's id column. */
  readonly idColumn?: string
  /** Predict only this shard (a stable split by id) and write part files (`X.part-I-of-N.csv.gz`). */
  readonly shard?: Shard | null
  /** Images per forward pass (default 8). */
  readonly batchSize?: number
  /** Images decoded at a time (default 16); the next chunk decodes while this one is predicted. Memory grows with it. */
  readonly chunkSize?: number
  /** Skip (and report) images that cannot be read; without it the run stops before writing anything. */
  readonly skipUnreadable?: boolean
  /** Stops the run between images; nothing is written. */
  readonly signal?: AbortSignal
  /** After each chunk. */
  readonly onProgress?: (done: number, total: number) => void
  /**
   * Called with each image and its probabilities at the image's own size (row-major, before thresholding), in input
   * order: what `unet pseudo-label` selects confident images from. Counts as an output.
   */
  readonly onPrediction?: (prediction: { readonly image: ImageSample; readonly probabilities: Float32Array }) => void | Promise<void>
  /** The model, or models to average, when the caller loaded them already (default: the run's or set's, loaded here and disposed after). */
  readonly model?: Models
  /**
   * Zero the masks of images the model's "has mask" classifier calls empty (probability below this): `auto` (the
   * default) uses run.json's `emptyClassifier` threshold when the run has one; `null` turns it off.
   */
  readonly emptyThreshold?: 'auto' | number | null
}

/** What {@link predictRun} did. */
export interface PredictRunResult {
  /** Images predicted. */
  readonly images: number
  /** Images with a non-empty mask. */
  readonly nonEmpty: number
  readonly threshold: number
  /** Unreadable images skipped (with `skipUnreadable`), and files not listed. */
  readonly skipped: { file: string; reason: string }[]
  readonly notes: string[]
  /** Where each output went (part paths when sharded). */
  readonly written: { submission?: string; rows?: number; boxes?: string; masks?: number; probabilities?: number; overlays?: number; crops?: number }
  /** Images whose cut-out was left out because the object was not found. */
  readonly noCrop: number
  /** The shard predicted. */
  readonly shard: Shard | null
  /** The input's layout and source. */
  readonly source: string
  readonly layout: string
}

/**
 * The prepare spec of a run.
 *
 * @param run - run.json
 * @returns the spec for @unet/data's prepareImage / restoreProbabilities
 */
export function prepareSpec(run: Pick<RunFile, 'input' | 'prepare'>): PrepareSpec {
  return { width: run.input.width, height: run.input.height, mode: run.prepare.mode, ...(run.prepare.pad ? { pad: run.prepare.pad } : {}), interpolation: run.prepare.interpolation }
}

/**
 * An image with the channels the model takes (@unet/data's `matchChannels`: grey is repeated into RGB). RGB for a
 * grey model is refused, except when its three channels are equal (TGS's 3-channel PNGs), which is grey already.
 */
export function toModelChannels(img: Pick<ImageSample, 'image' | 'width' | 'height' | 'channels'>, channels: number, where: string): Float32Array {
  if (img.channels === 3 && channels === 1) {
    const n = img.width * img.height
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      const r = img.image[3 * i] as number
      if (r !== img.image[3 * i + 1] || r !== img.image[3 * i + 2]) {
        throw new PredictError('MODEL_MISMATCH', `${where} is a colour image but the run's model takes grey images (input.channels 1); convert the images to grey or use a run trained on colour`, { file: where })
      }
      out[i] = r
    }
    return out
  }
  try {
    return matchChannels(img.image, img, channels)
  } catch (cause) {
    throw new PredictError('MODEL_MISMATCH', `${where}: ${(cause as Error).message}`, { file: where, cause })
  }
}

/**
 * An image prepared for the model as the run was trained: channels matched, then resized / padded / letterboxed.
 *
 * @throws {PredictError} `MODEL_MISMATCH` naming the file (e.g. a pad run given an image larger than its input)
 */
export function prepareFor(img: Pick<ImageSample, 'image' | 'width' | 'height' | 'channels'>, run: Pick<RunFile, 'input' | 'prepare'>, where: string): Float32Array {
  const pixels = toModelChannels(img, run.input.channels, where)
  try {
    return prepareImage(pixels, { width: img.width, height: img.height, channels: run.input.channels }, prepareSpec(run))
  } catch (cause) {
    throw new PredictError('MODEL_MISMATCH', `${where}: ${(cause as Error).message}`, { file: where, cause })
  }
}

type Loaded = { ok: true; image: ImageSample; entry: SampleEntry } | { ok: false; entry: SampleEntry; reason: string }

/** Decoding that reports a bad file instead of failing the whole chunk. */
function tolerant(inputs: InputSet): { loadImage(entry: SampleEntry): Promise<Loaded> } {
  return {
    loadImage: async (entry) => {
      try {
        return { ok: true, image: await inputs.loadImage(entry), entry }
      } catch (error) {
        return { ok: false, entry, reason: (error as Error).message }
      }
    },
  }
}

function jsonLines(items: AsyncIterable<unknown>): AsyncIterable<string> {
  return (async function* () {
    for await (const item of items) yield JSON.stringify(item) + '\n'
  })()
}

/**
 * Predicts a folder or dataset with a run's model: each image prepared as the run was trained (run.json), TTA
 * views averaged, the probabilities mapped back to the image's own size, post-processed, and written to any of:
 * a submission (streamed, atomic), mask / probability / overlay / cut-out PNGs, a boxes JSON-lines file.
 * Memory stays bounded by the chunk size: the next chunk decodes while this one is predicted.
 *
 * Nothing is written unless the whole run succeeds: files stream into temp files and folders into staging
 * folders, put in place at the end. An unreadable image stops the run (naming it) unless `skipUnreadable`.
 *
 * @param folder - the run (from `readRun`)
 * @param options - inputs, outputs, TTA, post-processing, shard
 * @returns counts and where things went
 * @throws {PredictError} `BAD_OPTION`, `MODEL_MISMATCH`, `UNREADABLE`; FilesError when an output cannot be written
 * @example
 * ```ts
 * await predictRun(await readRun('runs/carvana'), { data: '/data/carvana', out: 'submission.csv.gz', tta: ['hflip'] })
 * ```
 */
export async function predictRun(folder: RunFolder | ModelSet, options: PredictRunOptions): Promise<PredictRunResult> {
  const { run } = folder
  const outputs = [options.out, options.masksOut, options.probabilities, options.overlaysOut, options.cropsOut, options.boxes, options.onPrediction].filter((o) => o !== undefined)
  if (outputs.length === 0) throw new PredictError('BAD_OPTION', 'nothing to write: give --out, --masks-out, --probabilities, --overlays-out, --crops-out or --boxes')
  if (run.output.classes !== 1) throw new PredictError('MODEL_MISMATCH', `${folder.dir} predicts ${run.output.classes} classes; predict writes one foreground mask per image (classes 1)`)
  const threshold = options.threshold === undefined || options.threshold === 'auto' ? run.threshold : options.threshold
  const cropThreshold = options.cropThreshold ?? 0.25
  for (const [name, t] of [['threshold', threshold], ['crop threshold', cropThreshold]] as const) {
    if (!(t >= 0 && t < 1)) throw new PredictError('BAD_OPTION', `${name} ${t} is not a probability in [0, 1)`)
  }
  const minArea = options.minArea ?? 0
  if (!Number.isInteger(minArea) || minArea < 0) throw new PredictError('BAD_OPTION', `min area ${minArea} is not a whole number of pixels ≥ 0`)
  const format = submissionFormat(run, { ...(options.rleOrder ? { order: options.rleOrder } : {}), ...(options.idColumn ? { idColumn: options.idColumn } : {}) })
  const shard = options.shard ?? null
  const spec = prepareSpec(run)
  const post = { threshold, minArea, fillHoles: options.fillHoles === true }

  // every output checked before any work: a folder that cannot be created, or a folder given as a file, fails now
  for (const path of [options.out, options.boxes]) {
    if (path === undefined || path === '-') continue
    const target = shard === null ? path : partPath(path, shard)
    await ensureFolder(dirname(resolve(target)))
    await outputKind(target)
  }
  for (const dir of [options.masksOut, options.probabilities, options.overlaysOut, options.cropsOut]) if (dir !== undefined) await ensureFolder(dir)

  const inputs = await openInputs({ ...(options.data !== undefined ? { data: options.data } : {}), ...(options.images !== undefined ? { images: options.images } : {}) }, format)
  const skipped: { file: string; reason: string }[] = inputs.problems.map((p) => ({ file: p.file, reason: p.reason }))
  const entries = shard === null ? inputs.entries : inputs.entries.filter((e) => shardOf(e.id, shard.count) === shard.index)
  if (inputs.entries.length === 0) {
    await inputs.close()
    throw new PredictError('BAD_OPTION', `${inputs.source} holds no images to predict`)
  }
  const model: Models = options.model ?? (await loadRunModels(folder))
  const emptyThreshold = resolveEmptyThreshold(folder.run, options.emptyThreshold)
  const part = (path: string | undefined): string | undefined => (path === undefined || shard === null || path === '-' ? path : partPath(path, shard))
  let submission: StreamedFile<SubmissionRow> | null = null
  let boxes: StreamedFile<unknown> | null = null
  const folders: Partial<Record<'masks' | 'probabilities' | 'overlays' | 'crops', StagedFolder>> = {}
  let images = 0
  let nonEmpty = 0
  let noCrop = 0
  let unreadable = 0
  try {
    // folders first: an unwritable folder is found before any prediction
    if (options.masksOut !== undefined) folders.masks = await StagedFolder.open(options.masksOut)
    if (options.probabilities !== undefined) folders.probabilities = await StagedFolder.open(options.probabilities)
    if (options.overlaysOut !== undefined) folders.overlays = await StagedFolder.open(options.overlaysOut)
    if (options.cropsOut !== undefined) folders.crops = await StagedFolder.open(options.cropsOut)
    const out = part(options.out)
    if (out !== undefined) submission = new StreamedFile<SubmissionRow>(out, (rows) => submissionChunks(rows, { columns: [format.idColumn, 'rle_mask'], validateRle: false }))
    const boxesPath = part(options.boxes)
    if (boxesPath !== undefined) boxes = new StreamedFile<unknown>(boxesPath, jsonLines)

    const { width: W, height: H, channels: C } = run.input
    const chunkSize = options.chunkSize ?? 16
    // loadImages decodes the next chunk while this one is predicted; its loader here returns a result per file
    // (image or problem) so one bad file does not fail its chunk
    for await (const chunk of loadImages(tolerant(inputs) as never, entries, { chunkSize, concurrency: 4 }) as AsyncGenerator<unknown[]> as AsyncGenerator<Loaded[]>) {
      if (options.signal?.aborted) throw options.signal.reason ?? new PredictError('BAD_OPTION', 'interrupted')
      const good: ImageSample[] = []
      const where: string[] = []
      for (const loaded of chunk) {
        if (loaded.ok) {
          good.push(loaded.image)
          where.push(loaded.entry.image.where)
        } else if (options.skipUnreadable === true) {
          skipped.push({ file: loaded.entry.image.where, reason: loaded.reason })
          unreadable++
        } else {
          throw new PredictError('UNREADABLE', `${loaded.reason.replace(/\.$/, '')}; nothing was written: fix or remove the file, or pass --skip-unreadable to predict the rest`, {
            file: loaded.entry.image.where,
          })
        }
      }
      const batch = new Float32Array(good.length * W * H * C)
      good.forEach((img, k) => {
        batch.set(prepareFor(img, run, where[k] as string), k * W * H * C)
      })
      const maps = await predictProbabilities(model, { data: batch, count: good.length, height: H, width: W, channels: C }, { activation: run.output.activation, tta: options.tta ?? [], batchSize: options.batchSize ?? 8, emptyThreshold })
      for (let k = 0; k < good.length; k++) {
        const img = good[k] as ImageSample
        const size = { width: img.width, height: img.height }
        const probs = restoreProbabilities(maps[k] as Float32Array, size, spec)
        await options.onPrediction?.({ image: img, probabilities: probs })
        const mask = postProcess(probs, size, post)
        let any = false
        for (let i = 0; i < mask.length; i++) {
          if (mask[i] !== 0) {
            any = true
            break
          }
        }
        if (any) nonEmpty++
        if (submission) await submission.push({ id: img.id + format.idSuffix, rleMask: encode(mask, size, { order: format.order }) })
        const name = `${img.id}.png`
        if (folders.masks) await folders.masks.write(name, encodePng(maskBytes(mask), { ...size, channels: 1 }))
        if (folders.probabilities) await folders.probabilities.write(name, encodePng(toBytes(probs), { ...size, channels: 1 }))
        if (folders.overlays) {
          const o = overlay(img.image, { ...size, channels: img.channels }, mask)
          await folders.overlays.write(name, encodePng(o.data, o))
        }
        if (boxes) {
          const { components } = findComponents(mask, size)
          await boxes.push({ id: img.id, width: img.width, height: img.height, components: components.map((c) => ({ area: c.area, ...c.box })) })
        }
        if (folders.crops) {
          const cutMask = cropThreshold === threshold ? mask : postProcess(probs, size, { ...post, threshold: cropThreshold })
          const box = unionBox(findComponents(cutMask, size).components.map((c) => c.box))
          if (box === null) noCrop++
          else {
            const crop = cutOut(img.image, { ...size, channels: img.channels }, cutMask, box)
            await folders.crops.write(name, encodePng(crop.data, crop))
          }
        }
        images++
      }
      options.onProgress?.(images + unreadable, entries.length)
    }
    const written: PredictRunResult['written'] = {}
    if (submission) {
      await submission.close()
      Object.assign(written, { submission: submission.path, rows: images })
    }
    if (boxes) {
      await boxes.close()
      written.boxes = boxes.path
    }
    for (const [key, f] of Object.entries(folders)) {
      await f.commit()
      written[key as 'masks'] = f.count
    }
    return { images, nonEmpty, threshold, skipped, notes: inputs.notes, written, noCrop, shard, source: inputs.source, layout: inputs.layout }
  } catch (error) {
    await submission?.abort(error)
    await boxes?.abort(error)
    for (const f of Object.values(folders)) await f.abort()
    throw error
  } finally {
    if (options.model === undefined) for (const m of model as LayersModel[]) m.dispose()
    await inputs.close()
  }
}
