import {
  augmentSample,
  blur,
  brightness,
  compose,
  contrast,
  gamma,
  horizontalFlip,
  noise,
  shiftScaleRotate,
  type Augmentation,
  generateSyntheticTgs,
  readTgsDataset,
  stratifiedKFold,
  stratifiedSplit,
  toModelSize,
  fromModelSize,
  type TgsSample,
  type TgsProblem,
} from '@unet/data-tgs'
import type { Batch, FitData, ValidationBatch } from '@unet/train'
import { TrainerError } from './errors'
import { deriveSeed, seededShuffle } from './rng'
import type { TrainConfig } from './config'

/** Images at model size, ready to batch. */
export interface PreparedSet {
  /** Image ids, in order. */
  ids: string[]
  /** Number of images. */
  count: number
  /** Side of the model-size images. */
  size: number
  /** Channels per image (1, or 3 for the VGG encoder). */
  channels: number
  /** All images, `count × size × size × channels`, [0, 1]. */
  images: Float32Array
  /** All masks at model size, `count × size × size`, 0/1 (empty for test sets). */
  masks: Float32Array
  /** Original images at their own size (the report shows these). */
  originalImages: Float32Array[]
  /** Original masks (0/1) at their own size, for scoring (empty for test sets). */
  originalMasks: Uint8Array[]
  /** Original height and width of each image. */
  shapes: { height: number; width: number }[]
  /** Coverage class (0…10) of each mask (empty for test sets). */
  coverageClasses: number[]
}

/** The data a run uses: its train and validation sets at model size, and the raw test images. */
export interface RunData {
  train: PreparedSet
  validation: PreparedSet
  test: { id: string; image: Float32Array; height: number; width: number }[]
  /** Where it came from, for the report. */
  source: string
  /** Files the reader could not use (corrupt, unpaired, wrong size), with the problem. */
  skipped?: TgsProblem[]
}

/**
 * Loads the run's data — a Kaggle folder/zip, or the synthetic set generated
 * in memory from the seed — and splits it the same way every time for a given
 * config, so evaluate/predict/resume see the very split training saw.
 *
 * @param config - the run's config
 * @param channels - channels the model takes
 * @returns the prepared sets
 * @example
 * ```ts
 * const data = await loadRunData(resolveTrainConfig({ synthTrain: 40 }), 1)
 * ```
 */
export async function loadRunData(config: TrainConfig, channels: number): Promise<RunData> {
  const { train, test, source, skipped } = await loadRawData(config, { test: false })
  if (train.length < 2) {
    throw new TrainerError('NO_DATA', `${source} has ${train.length} train image(s); at least 2 are needed to hold some out for validation`)
  }
  let split: { train: TgsSample[]; validation: TgsSample[] }
  if (config.folds !== null) {
    const folds = stratifiedKFold(train, { folds: config.folds, seed: config.seed })
    const f = folds[config.fold]
    if (!f) throw new TrainerError('BAD_CONFIG', `--fold ${config.fold} does not exist for --folds ${config.folds}`)
    split = f
  } else {
    split = stratifiedSplit(train, { validationFraction: config.valSplit, seed: config.seed })
  }
  if (split.validation.length === 0 || split.train.length === 0) {
    throw new TrainerError('NO_DATA', `split of ${train.length} images left ${split.train.length} for training and ${split.validation.length} for validation; use more images or change --val-split`)
  }
  return {
    train: prepareSet(split.train, config, channels),
    validation: prepareSet(split.validation, config, channels),
    test: test.map((t) => ({ id: t.id, image: t.image, height: t.height, width: t.width })),
    source,
    skipped,
  }
}

/**
 * Reads the raw samples behind a config: `config.data`, or the synthetic set.
 *
 * @param config - which data and which seed
 * @returns raw train samples and test images
 * @example
 * ```ts
 * const raw = await loadRawData(resolveTrainConfig({ synthTrain: 20 }))
 * ```
 */
export async function loadRawData(
  config: Pick<TrainConfig, 'data' | 'seed' | 'synthTrain' | 'synthTest'>,
  options: { test?: boolean; train?: boolean } = {},
): Promise<{
  train: TgsSample[]
  test: { id: string; image: Float32Array; height: number; width: number }[]
  source: string
  /** Files the reader could not use; a missing depth is not one (depth is optional for training). */
  skipped: TgsProblem[]
}> {
  if (config.data === null) {
    const ds = generateSyntheticTgs({
      trainCount: options.train === false ? 0 : config.synthTrain,
      testCount: options.test === false ? 0 : config.synthTest,
      seed: config.seed,
    })
    return { train: ds.train, test: ds.test, source: `synthetic (${config.synthTrain} train, ${config.synthTest} test, seed ${config.seed})`, skipped: [] }
  }
  try {
    const ds = await readTgsDataset(config.data, { test: options.test !== false })
    return { train: ds.train, test: ds.test, source: config.data, skipped: ds.report.skipped.filter((p) => p.code !== 'MISSING_DEPTH') }
  } catch (cause) {
    const msg = cause instanceof Error ? cause.message : String(cause)
    throw new TrainerError('NO_DATA', `cannot read the dataset at ${config.data}: ${msg}`, { cause })
  }
}

/**
 * Converts samples to model size once, up front.
 *
 * @param samples - train samples (with masks) or test images (without)
 * @param config - image size and resize mode
 * @param channels - channels the model takes (the gray image is repeated)
 * @returns the prepared set
 * @example
 * ```ts
 * const set = prepareSet(samples, config, 1)
 * ```
 */
export function prepareSet(
  samples: readonly { id: string; image: Float32Array; height: number; width: number; mask?: Uint8Array; coverageClass?: number }[],
  config: Pick<TrainConfig, 'imageSize' | 'resize'>,
  channels: number,
): PreparedSet {
  const size = config.imageSize
  const plane = size * size
  const images = new Float32Array(samples.length * plane * channels)
  const hasMasks = samples.length > 0 && samples.every((s) => s.mask !== undefined)
  const masks = new Float32Array(hasMasks ? samples.length * plane : 0)
  samples.forEach((s, i) => {
    const shape = { height: s.height, width: s.width }
    const img = toModelSize(s.image, shape, { size, mode: config.resize, kind: 'image' })
    if (channels === 1) images.set(img, i * plane)
    else {
      const base = i * plane * channels
      for (let p = 0; p < plane; p++) {
        const v = img[p] as number
        for (let c = 0; c < channels; c++) images[base + p * channels + c] = v
      }
    }
    if (hasMasks && s.mask) {
      const m = toModelSize(s.mask, shape, { size, mode: config.resize, kind: 'mask' })
      const base = i * plane
      for (let p = 0; p < plane; p++) masks[base + p] = (m[p] as number) > 0.5 ? 1 : 0
    }
  })
  return {
    ids: samples.map((s) => s.id),
    count: samples.length,
    size,
    channels,
    images,
    masks,
    originalImages: samples.map((s) => s.image),
    originalMasks: hasMasks ? samples.map((s) => s.mask as Uint8Array) : [],
    shapes: samples.map((s) => ({ height: s.height, width: s.width })),
    coverageClasses: hasMasks ? samples.map((s) => s.coverageClass ?? 0) : [],
  }
}

/**
 * Maps a model-size probability map back to the image's own size.
 *
 * @param probs - `size × size` probabilities
 * @param shape - the original height and width
 * @param config - image size and resize mode used for the model
 * @returns `height × width` probabilities
 * @example
 * ```ts
 * const p101 = toOriginalSize(p128, { height: 101, width: 101 }, config)
 * ```
 */
export function toOriginalSize(probs: Float32Array, shape: { height: number; width: number }, config: Pick<TrainConfig, 'imageSize' | 'resize'>): Float32Array {
  return Float32Array.from(fromModelSize(probs, shape, { size: config.imageSize, mode: config.resize, kind: 'image' }))
}

/**
 * The run's data as @unet/train's `fit` takes it: batch k of epoch e rebuilt alone from (seed, epoch, step), plain
 * shuffled batches for batch-norm recalibration, and validation batches whose probabilities map back to each
 * image's own size.
 *
 * @param data - the prepared sets
 * @param config - batch size, seed, augmentation, image size and resize mode
 * @returns train and validation sources
 * @example
 * ```ts
 * const result = await fit(model, fitData(data, config), options)
 * ```
 */
export function fitData(data: RunData, config: TrainConfig): FitData {
  const { train, validation } = data
  const size = train.size
  const pixels = size * size * train.channels
  const plane = size * size
  return {
    train: {
      count: train.count,
      inputShape: [size, size, train.channels],
      batch(epoch, step): Batch {
        const b = buildBatch(train, epochOrder(train.count, config.seed, epoch), { epoch, step }, config)
        return { x: b.xs, y: b.ys, count: b.length }
      },
      *plainBatches(epoch, batchSize): Generator<Batch> {
        const order = epochOrder(train.count, config.seed, epoch)
        for (let start = 0; start < order.length; start += batchSize) {
          const idx = order.slice(start, start + batchSize)
          const x = new Float32Array(idx.length * pixels)
          idx.forEach((i, k) => x.set(train.images.subarray(i * pixels, (i + 1) * pixels), k * pixels))
          yield { x, y: new Float32Array(0), count: idx.length }
        }
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
            restore: (p, k) => toOriginalSize(p, validation.shapes[start + k] as { height: number; width: number }, config),
          }
        }
      },
    },
  }
}

/** Where in the run a batch sits; with the seed it fixes the batch's content. */
export interface BatchPosition {
  epoch: number
  step: number
}

/**
 * The order the train images are visited in during `epoch`: a pure function of
 * (seed, epoch), so a resumed run replays the same order.
 *
 * @param count - train images
 * @param seed - the run seed
 * @param epoch - 0-based epoch
 * @returns indices into the train set
 * @example
 * ```ts
 * const order = epochOrder(100, 42, 0)
 * ```
 */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  return seededShuffle(Array.from({ length: count }, (_, i) => i), deriveSeed(seed, 1, epoch))
}

/**
 * Builds the batch at (epoch, step): images and masks in NHWC order, with the
 * @unet/data-tgs augmentations seeded by (seed, epoch, position), so
 * any batch can be rebuilt alone — which is how `--resume` continues mid-epoch.
 *
 * @param set - the train set
 * @param order - {@link epochOrder} of this epoch
 * @param pos - epoch and step
 * @param config - batch size, seed and augmentations
 * @returns flat arrays and the batch length
 * @example
 * ```ts
 * const b = buildBatch(train, epochOrder(train.count, 42, 0), { epoch: 0, step: 0 }, config)
 * ```
 */
export function buildBatch(
  set: PreparedSet,
  order: readonly number[],
  pos: BatchPosition,
  config: Pick<TrainConfig, 'batchSize' | 'seed' | 'augment'>,
): { xs: Float32Array; ys: Float32Array; length: number } {
  const start = pos.step * config.batchSize
  const idx = order.slice(start, start + config.batchSize)
  const plane = set.size * set.size
  const xs = new Float32Array(idx.length * plane * set.channels)
  const ys = new Float32Array(idx.length * plane)
  idx.forEach((sampleIndex, b) => {
    const img = set.images.subarray(sampleIndex * plane * set.channels, (sampleIndex + 1) * plane * set.channels)
    const mask = set.masks.subarray(sampleIndex * plane, (sampleIndex + 1) * plane)
    const outImg = xs.subarray(b * plane * set.channels, (b + 1) * plane * set.channels)
    const outMask = ys.subarray(b * plane, (b + 1) * plane)
    outImg.set(img)
    outMask.set(mask)
    if (config.augment.length > 0) {
      if (set.channels !== 1) throw new TrainerError('BAD_CONFIG', 'augmentation needs single-channel images')
      // seeded by where the image sits in the run, so any batch can be rebuilt alone on resume
      const seed = deriveSeed(config.seed, 2, pos.epoch, start + b)
      const maskBytes = Uint8Array.from(mask)
      const out = augmentSample(augmentationFor(config.augment), { image: img, mask: maskBytes, height: set.size, width: set.size }, seed)
      outImg.set(out.image)
      outMask.set(out.mask ?? maskBytes)
    }
  })
  return { xs, ys, length: idx.length }
}

const AUGMENTATION_FACTORIES: Record<string, () => Augmentation> = {
  flip: () => horizontalFlip(),
  shift: () => shiftScaleRotate(),
  brightness: () => brightness(),
  contrast: () => contrast(),
  gamma: () => gamma(),
  blur: () => blur(),
  noise: () => noise(),
}

const pipelines = new Map<string, Augmentation>()

/**
 * The @unet/data-tgs augmentation pipeline for a list of `--augment` names
 * (each with data-tgs' default probability), built once per list.
 *
 * @param names - augmentation names
 * @returns the composed augmentation
 * @example
 * ```ts
 * const aug = augmentationFor(['flip', 'brightness'])
 * ```
 */
export function augmentationFor(names: readonly string[]): Augmentation {
  const key = names.join(',')
  let pipeline = pipelines.get(key)
  if (!pipeline) {
    pipeline = compose(names.map((n) => (AUGMENTATION_FACTORIES[n] ?? (() => horizontalFlip({ p: 0 })))()))
    pipelines.set(key, pipeline)
  }
  return pipeline
}
