import {
  coverageClass,
  createAugmentation,
  createBatcher,
  detectLayout,
  groupedKFold,
  groupedSplit,
  maskCoverage,
  prepareImage,
  prepareMask,
  readDataset,
  restoreProbabilities,
  stratifiedKFold,
  stratifiedSplit,
  type Augmentation,
  type PrepareSpec,
} from '@unet/data'
import { join } from 'node:path'
import { generateSyntheticTgs, readTgsDataset } from '@unet/data-tgs'
import type { Batch, FitData, ValidationBatch } from '@unet/train'
import { parseAugmentation, type TrainConfig } from './config'
import { TrainerError } from './errors'

/** A labelled image at its own size, whatever the layout it came from. */
export interface RunSample {
  id: string
  /** `height × width × channels`, [0, 1], channels interleaved. */
  image: Float32Array
  /** `height × width` 0/1 (absent for test images). */
  mask?: Uint8Array
  height: number
  width: number
  /** 1 (grey) or 3 (RGB); default 1. */
  channels?: number
  /** TGS coverage class 0…10 (computed from the mask when absent). */
  coverageClass?: number
  /** What a grouped split keeps together (Carvana: the car). */
  group?: string
}

/** A file the reader could not use, and why. */
export interface SkippedFile {
  code: string
  id?: string
  file?: string
  message: string
}

/** Images at model size, ready to batch. */
export interface PreparedSet {
  /** Image ids, in order. */
  ids: string[]
  /** Number of images. */
  count: number
  /** Model input width (also the side of square inputs; `width` and `height` say both). */
  size: number
  /** Model input width. */
  width: number
  /** Model input height. */
  height: number
  /** Channels per image. */
  channels: number
  /** All images, `count × height × width × channels`, [0, 1]. */
  images: Float32Array
  /** All masks at model size, `count × height × width`, 0/1 (empty for test sets). */
  masks: Float32Array
  /** Original images at their own size, channels interleaved (the report shows these). */
  originalImages: Float32Array[]
  /** Channels of the original images. */
  originalChannels: number[]
  /** Original masks (0/1) at their own size, for scoring (empty for test sets). */
  originalMasks: Uint8Array[]
  /** Original height and width of each image. */
  shapes: { height: number; width: number }[]
  /** Coverage class (0…10) of each mask (empty for test sets). */
  coverageClasses: number[]
}

/** The data a run uses: its train and validation sets, and the raw test images. */
export interface RunData {
  train: PreparedSet
  validation: PreparedSet
  test: { id: string; image: Float32Array; height: number; width: number }[]
  /** Where it came from, for the report. */
  source: string
  /** The layout it was read as. */
  layout?: 'tgs' | 'carvana' | 'folders' | 'synthetic'
  /** Files the reader could not use (corrupt, unpaired, wrong size), with the problem. */
  skipped?: SkippedFile[]
}

/**
 * The model size and how images get there, as @unet/data's `prepareImage` and run.json's `prepare` take it.
 *
 * @param config - image size and resize mode
 * @returns the spec
 * @example
 * ```ts
 * prepareSpec(resolveTrainConfig({ imageSize: 384, imageHeight: 192 })) // { width: 384, height: 192, mode: 'resize', … }
 * ```
 */
export function prepareSpec(config: Pick<TrainConfig, 'imageSize' | 'imageHeight' | 'resize'>): PrepareSpec {
  return { width: config.imageSize, height: config.imageHeight ?? config.imageSize, mode: config.resize, pad: 'reflect', interpolation: 'bilinear' }
}

/**
 * Loads the run's data — a dataset folder or zip (TGS, Carvana or folder pairs, detected), folder pairs given by
 * `images`/`masks`, or the synthetic set generated in memory from the seed — and splits it the same way every time
 * for a given config, so evaluate/predict/resume see the very split training saw.
 *
 * @param config - the run's config
 * @param channels - channels the model takes (grey images are repeated to fill them)
 * @returns the prepared sets
 * @example
 * ```ts
 * const data = await loadRunData(resolveTrainConfig({ synthTrain: 40 }), 1)
 * ```
 */
export async function loadRunData(config: TrainConfig, channels: number | null): Promise<RunData> {
  const { train, test, source, skipped, layout } = await loadRawData(config, { test: false })
  const want = channels ?? Math.max(1, ...train.map((s) => s.channels ?? 1))
  if (train.length < 2) {
    throw new TrainerError('NO_DATA', `${source} has ${train.length} usable train image(s); at least 2 are needed to hold some out for validation`)
  }
  const split = splitSamples(train, config)
  if (split.validation.length === 0 || split.train.length === 0) {
    throw new TrainerError('NO_DATA', `split of ${train.length} images left ${split.train.length} for training and ${split.validation.length} for validation; use more images or change --val-split`)
  }
  if (config.pseudoLabels) split.train.push(...(await loadPseudoLabels(config.pseudoLabels, config)))
  const spec = prepareSpec(config)
  if (config.resize === 'pad') {
    const big = train.find((s) => s.width > spec.width || s.height > spec.height)
    if (big) throw new TrainerError('BAD_CONFIG', `--resize pad needs every image to fit the model size ${spec.width}×${spec.height}, but ${big.id} is ${big.width}×${big.height}; raise --image-size or use --resize resize|letterbox`)
  }
  return {
    train: prepareSet(split.train, config, want),
    validation: prepareSet(split.validation, config, want),
    test: test.map((t) => ({ id: t.id, image: t.image, height: t.height, width: t.width })),
    source,
    layout,
    skipped,
  }
}

/** Pseudo-labelled test images (`unet pseudo-label`: `images/` + `masks/` PNG pairs): train images, never validation. */
async function loadPseudoLabels(dir: string, config: TrainConfig): Promise<RunSample[]> {
  const read = await loadRawData({ data: null, seed: config.seed, synthTrain: config.synthTrain, synthTest: 0, images: join(dir, 'images'), masks: join(dir, 'masks') }, { test: false })
  if (read.skipped.length > 0) throw new TrainerError('BAD_DATA', `${read.skipped.length} pseudo-labelled file(s) in ${dir} cannot be used (first: ${read.skipped[0]!.file ?? read.skipped[0]!.id}: ${read.skipped[0]!.message}); run unet pseudo-label again`)
  return read.train.map((s) => ({ ...s, id: `pseudo:${s.id}` }))
}

function splitSamples(samples: RunSample[], config: TrainConfig): { train: RunSample[]; validation: RunSample[] } {
  const stratifyBy = (s: RunSample): number => s.coverageClass ?? 0
  if (config.groupBy !== null) {
    const re = config.groupBy === 'carvana' ? null : new RegExp(config.groupBy)
    const groupBy = (s: RunSample): string => {
      if (!re) return s.group ?? s.id.replace(/_\d+$/, '')
      const m = re.exec(s.id)
      return m ? (m[1] ?? m[0]) : s.id
    }
    if (config.folds !== null) {
      const f = groupedKFold(samples, { folds: config.folds, seed: config.seed, groupBy })[config.fold]
      if (!f) throw new TrainerError('BAD_CONFIG', `--fold ${config.fold} does not exist for --folds ${config.folds}`)
      return f
    }
    return groupedSplit(samples, { validationFraction: config.valSplit, seed: config.seed, groupBy })
  }
  if (config.folds !== null) {
    const f = stratifiedKFold(samples, { folds: config.folds, seed: config.seed, stratifyBy })[config.fold]
    if (!f) throw new TrainerError('BAD_CONFIG', `--fold ${config.fold} does not exist for --folds ${config.folds}`)
    return f
  }
  return stratifiedSplit(samples, { validationFraction: config.valSplit, seed: config.seed, stratifyBy })
}

/** The layout a config's data is read as. */
export async function layoutOf(config: Pick<TrainConfig, 'data' | 'layout' | 'images' | 'masks'>): Promise<'tgs' | 'carvana' | 'folders' | 'synthetic'> {
  if (config.images !== null) return 'folders'
  if (config.data === null) return 'synthetic'
  if (config.layout !== null) return config.layout
  try {
    return (await detectLayout(config.data)) as 'tgs' | 'carvana' | 'folders'
  } catch (cause) {
    throw new TrainerError('NO_DATA', `cannot read the dataset at ${config.data}: ${(cause as Error).message}`, { cause })
  }
}

/**
 * Reads the raw samples behind a config: TGS through @unet/data-tgs (depths, coverage classes), Carvana and folder
 * pairs through @unet/data, or the synthetic set. Unusable files never vanish silently: they are returned in
 * `skipped` (a missing depth is not one: depth is optional for training).
 *
 * @param config - which data and which seed
 * @param options - `test: false` skips the test images
 * @returns raw train samples, test images, the source, the skipped files and the layout
 * @example
 * ```ts
 * const raw = await loadRawData(resolveTrainConfig({ synthTrain: 20 }))
 * ```
 */
export async function loadRawData(
  config: Pick<TrainConfig, 'data' | 'seed' | 'synthTrain' | 'synthTest'> & Partial<Pick<TrainConfig, 'layout' | 'images' | 'masks' | 'maskSuffix' | 'maskThreshold'>>,
  options: { test?: boolean; train?: boolean } = {},
): Promise<{
  train: RunSample[]
  test: { id: string; image: Float32Array; height: number; width: number }[]
  source: string
  skipped: SkippedFile[]
  layout: 'tgs' | 'carvana' | 'folders' | 'synthetic'
}> {
  const full = { layout: null, images: null, masks: null, maskSuffix: '', maskThreshold: null, ...config }
  const layout = await layoutOf(full)
  if (layout === 'synthetic') {
    const ds = generateSyntheticTgs({
      trainCount: options.train === false ? 0 : config.synthTrain,
      testCount: options.test === false ? 0 : config.synthTest,
      seed: config.seed,
    })
    return { train: ds.train, test: ds.test, source: `synthetic (${config.synthTrain} train, ${config.synthTest} test, seed ${config.seed})`, skipped: [], layout }
  }
  const where = full.images !== null ? `${full.images} + ${full.masks}` : (config.data as string)
  try {
    if (layout === 'tgs') {
      // read everything and list the bad files: the trainer stops on them (naming them) unless --skip-bad
      const ds = await readTgsDataset(config.data as string, { test: options.test !== false, onInvalidFile: 'skip' })
      const skipped = ds.report.skipped.filter((p) => p.code !== 'MISSING_DEPTH').map((p) => ({ code: p.code, id: p.id, ...(p.file ? { file: p.file } : {}), message: p.message }))
      return { train: ds.train, test: ds.test, source: config.data as string, skipped, layout }
    }
    const path = full.images !== null ? commonParent(full.images, full.masks as string) : (config.data as string)
    const read = await readDataset(path, {
      layout,
      test: false,
      onBadFile: 'skip',
      ...(full.images !== null ? { images: relativeTo(path, full.images), masks: relativeTo(path, full.masks as string) } : {}),
      ...(full.maskSuffix !== '' ? { maskName: `{stem}${full.maskSuffix}` } : {}),
      ...(full.maskThreshold !== null ? { maskThreshold: full.maskThreshold } : {}),
    })
    await read.dataset.close()
    const train: RunSample[] = read.train.map((s) => ({
      id: s.id,
      image: s.image,
      mask: s.mask,
      height: s.height,
      width: s.width,
      channels: s.channels,
      coverageClass: coverageClass(maskCoverage(s.mask)),
      ...(s.group !== undefined ? { group: s.group } : {}),
    }))
    const skipped = read.report.skipped.map((p) => ({ code: p.code, ...(p.id !== undefined ? { id: p.id } : {}), file: p.file, message: p.reason }))
    return { train, test: [], source: where, skipped, layout }
  } catch (cause) {
    if (cause instanceof TrainerError) throw cause
    const msg = cause instanceof Error ? cause.message : String(cause)
    throw new TrainerError('NO_DATA', `cannot read the dataset at ${where}: ${msg}`, { cause })
  }
}

function commonParent(a: string, b: string): string {
  const pa = a.split(/[\\/]/)
  const pb = b.split(/[\\/]/)
  let i = 0
  while (i < pa.length - 1 && i < pb.length - 1 && pa[i] === pb[i]) i++
  return pa.slice(0, i).join('/') || '.'
}

function relativeTo(root: string, path: string): string {
  const r = root === '.' ? path : path.slice(root.length).replace(/^[\\/]+/, '')
  return r || '.'
}

/**
 * Converts samples to model size once, up front (validation and report; training batches are prepared per step).
 *
 * @param samples - samples (with masks) or test images (without)
 * @param config - image size and resize mode
 * @param channels - channels the model takes (grey images are repeated)
 * @returns the prepared set
 * @example
 * ```ts
 * const set = prepareSet(samples, config, 1)
 * ```
 */
export function prepareSet(
  samples: readonly RunSample[],
  config: Pick<TrainConfig, 'imageSize' | 'resize'> & Partial<Pick<TrainConfig, 'imageHeight'>>,
  channels: number,
): PreparedSet {
  const spec = prepareSpec({ imageSize: config.imageSize, resize: config.resize, imageHeight: config.imageHeight ?? null })
  const { width, height } = spec
  const plane = width * height
  const images = new Float32Array(samples.length * plane * channels)
  const hasMasks = samples.length > 0 && samples.every((s) => s.mask !== undefined)
  const masks = new Float32Array(hasMasks ? samples.length * plane : 0)
  samples.forEach((s, i) => {
    const own = s.channels ?? 1
    const img = fitChannels(prepareImage(s.image, { width: s.width, height: s.height, channels: own }, spec), own, channels, s.id)
    images.set(img, i * plane * channels)
    if (hasMasks && s.mask) {
      const m = prepareMask(s.mask, { width: s.width, height: s.height }, spec)
      for (let p = 0; p < plane; p++) masks[i * plane + p] = (m[p] as number) > 0 ? 1 : 0
    }
  })
  return {
    ids: samples.map((s) => s.id),
    count: samples.length,
    size: width,
    width,
    height,
    channels,
    images,
    masks,
    originalImages: samples.map((s) => s.image),
    originalChannels: samples.map((s) => s.channels ?? 1),
    originalMasks: hasMasks ? samples.map((s) => s.mask as Uint8Array) : [],
    shapes: samples.map((s) => ({ height: s.height, width: s.width })),
    coverageClasses: hasMasks ? samples.map((s) => s.coverageClass ?? coverageClass(maskCoverage(s.mask as Uint8Array))) : [],
  }
}

/** Grey → the model's channels by repeating; RGB into a grey model is refused (run-format.md). */
function fitChannels(image: Float32Array, own: number, want: number, id: string): Float32Array {
  if (own === want) return image
  if (own === 1) {
    const n = image.length
    const out = new Float32Array(n * want)
    for (let p = 0; p < n; p++) for (let c = 0; c < want; c++) out[p * want + c] = image[p] as number
    return out
  }
  throw new TrainerError('BAD_DATA', `${id} has ${own} channels but the model takes ${want}; give images with ${want} channel(s) (RGB is not turned into grey)`)
}

/**
 * Maps a model-size probability map back to the image's own size (the exact inverse of the preparing).
 *
 * @param probs - `height × width` probabilities at model size
 * @param shape - the original height and width
 * @param config - image size and resize mode used for the model
 * @returns `height × width` probabilities at the original size
 * @example
 * ```ts
 * const p101 = toOriginalSize(p128, { height: 101, width: 101 }, config)
 * ```
 */
export function toOriginalSize(probs: Float32Array, shape: { height: number; width: number }, config: Pick<TrainConfig, 'imageSize' | 'resize'> & Partial<Pick<TrainConfig, 'imageHeight'>>): Float32Array {
  return restoreProbabilities(probs, shape, prepareSpec({ imageSize: config.imageSize, resize: config.resize, imageHeight: config.imageHeight ?? null }))
}

/**
 * The augmentation pipeline of a config (@unet/data's registry), or null for none.
 *
 * @param config - `augment`
 * @returns the composed augmentation
 * @example
 * ```ts
 * augmentationOf(resolveTrainConfig({ augment: ['horizontal_flip', 'rotate:limit=5:p=0.3'] }))
 * ```
 */
export function augmentationOf(config: Pick<TrainConfig, 'augment'>): Augmentation | null {
  if (config.augment.length === 0) return null
  return createAugmentation(config.augment.map((a) => parseAugmentation(a)) as never)
}

/**
 * The run's data as @unet/train's `fit` takes it: @unet/data's batcher over the train images at model size
 * (augmented per step; batch k of epoch e rebuilt alone from (seed, epoch, step)), plain shuffled
 * batches for batch-norm recalibration, and validation batches whose probabilities map back to each image's own size.
 *
 * @param data - the run's data
 * @param config - batch size, seed, augmentation, image size and resize mode
 * @returns train and validation sources
 * @example
 * ```ts
 * const result = await fit(model, fitData(data, config), options)
 * ```
 */
export function fitData(data: RunData, config: TrainConfig): FitData {
  const { train, validation } = data
  const spec = prepareSpec(config)
  // the train images were brought to the model size once (prepareSet); the batcher augments them there, so a step
  // costs no resampling (as fast as before @unet/data's batcher) and batch k of epoch e is still a pure function
  const pixelsPerImage = train.width * train.height * train.channels
  const samples = Array.from({ length: train.count }, (_, i) => ({
    id: train.ids[i] as string,
    image: train.images.subarray(i * pixelsPerImage, (i + 1) * pixelsPerImage),
    mask: Uint8Array.from(train.masks.subarray(i * train.width * train.height, (i + 1) * train.width * train.height)),
    width: train.width,
    height: train.height,
    channels: train.channels,
  }))
  const augment = augmentationOf(config)
  const batcher = createBatcher(samples, { prepare: spec, batchSize: config.batchSize, seed: config.seed, ...(augment ? { augment } : {}), prefetch: 0 })
  const plain = createBatcher(samples, { prepare: spec, batchSize: config.batchSize, seed: config.seed ^ 0x9e37, prefetch: 0 })
  const { width, height, channels } = train
  const pixels = width * height * channels
  const plane = width * height
  const toBatch = (b: { xs: Float32Array; ys: Float32Array; shape: [number, number, number, number] }): Batch => {
    const own = b.shape[3]
    return { x: own === channels ? b.xs : fitChannels(b.xs, own, channels, 'a train batch'), y: b.ys, count: b.shape[0] }
  }
  return {
    train: {
      count: samples.length,
      inputShape: [height, width, channels],
      async batch(epoch, step) {
        return toBatch(await batcher.batch(epoch, step))
      },
      async *plainBatches(epoch) {
        for (let step = 0; step < plain.batchesPerEpoch; step++) yield toBatch(await plain.batch(epoch, step))
      },
    },
    validation: {
      count: validation.count,
      *batches(batchSize): Generator<ValidationBatch> {
        for (let start = 0; start < validation.count; start += batchSize) {
          const n = Math.min(batchSize, validation.count - start)
          yield {
            x: validation.images.subarray(start * pixels, (start + n) * pixels),
            y: validation.masks.subarray(start * plane, (start + n) * plane),
            count: n,
            truths: validation.originalMasks.slice(start, start + n),
            restore: (p, k) => restoreProbabilities(p, validation.shapes[start + k] as { height: number; width: number }, spec),
          }
        }
      },
    },
  }
}
