import {
  generateSyntheticTgs,
  readTgsDataset,
  stratifiedKFold,
  stratifiedSplit,
  toModelSize,
  fromModelSize,
  type TgsSample,
} from '@unet/data-tgs'
import { TrainerError } from './errors'
import { createRng, deriveSeed, seededShuffle, type Rng } from './rng'
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
  const { train, test, source } = await loadRawData(config, { test: false })
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
}> {
  if (config.data === null) {
    const ds = generateSyntheticTgs({
      trainCount: options.train === false ? 0 : config.synthTrain,
      testCount: options.test === false ? 0 : config.synthTest,
      seed: config.seed,
    })
    return { train: ds.train, test: ds.test, source: `synthetic (${config.synthTrain} train, ${config.synthTest} test, seed ${config.seed})` }
  }
  try {
    const ds = await readTgsDataset(config.data, { test: options.test !== false })
    return { train: ds.train, test: ds.test, source: config.data }
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

/** Where in the run a batch sits; with the seed it fixes the batch's content. */
export interface BatchPosition {
  epoch: number
  step: number
}

/**
 * Number of steps (batches) per epoch; the last batch may be smaller.
 *
 * @param count - train images
 * @param batchSize - images per batch
 * @returns steps per epoch
 * @example
 * ```ts
 * stepsPerEpoch(100, 16) // 7
 * ```
 */
export function stepsPerEpoch(count: number, batchSize: number): number {
  return Math.ceil(count / batchSize)
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
 * augmentations drawn from a generator seeded by (seed, epoch, position), so
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
      const rng = createRng(deriveSeed(config.seed, 2, pos.epoch, start + b))
      augmentInPlace(outImg, outMask, set.size, set.channels, config.augment, rng)
    }
  })
  return { xs, ys, length: idx.length }
}

/**
 * Applies the named augmentations to one square image and its mask, in place.
 * Geometric ones (flip, shift) move image and mask together; photometric ones
 * touch the image only.
 *
 * @param img - `size × size × channels` image in [0, 1]
 * @param mask - `size × size` mask
 * @param size - side
 * @param channels - channels of `img`
 * @param names - augmentations to apply
 * @param rng - seeded generator that decides each one
 * @returns nothing; `img` and `mask` are changed
 * @example
 * ```ts
 * augmentInPlace(img, mask, 128, 1, ['flip'], createRng(1))
 * ```
 */
export function augmentInPlace(img: Float32Array, mask: Float32Array, size: number, channels: number, names: readonly string[], rng: Rng): void {
  const plane = size * size
  for (const name of names) {
    switch (name) {
      case 'flip':
        if (rng.next() < 0.5) {
          for (let y = 0; y < size; y++) {
            for (let x = 0; x < size >> 1; x++) {
              const a = y * size + x
              const b = y * size + (size - 1 - x)
              const tm = mask[a] as number
              mask[a] = mask[b] as number
              mask[b] = tm
              for (let c = 0; c < channels; c++) {
                const ti = img[a * channels + c] as number
                img[a * channels + c] = img[b * channels + c] as number
                img[b * channels + c] = ti
              }
            }
          }
        }
        break
      case 'shift': {
        const max = Math.max(1, Math.round(size * 0.1))
        const dx = rng.int(2 * max + 1) - max
        const dy = rng.int(2 * max + 1) - max
        const srcImg = img.slice()
        const srcMask = mask.slice()
        const reflect = (v: number): number => (v < 0 ? -v - 1 : v >= size ? 2 * size - v - 1 : v)
        for (let y = 0; y < size; y++) {
          const sy = reflect(y - dy)
          for (let x = 0; x < size; x++) {
            const sx = reflect(x - dx)
            const d = y * size + x
            const s = sy * size + sx
            mask[d] = srcMask[s] as number
            for (let c = 0; c < channels; c++) img[d * channels + c] = srcImg[s * channels + c] as number
          }
        }
        break
      }
      case 'brightness': {
        const delta = (rng.next() - 0.5) * 0.2
        for (let i = 0; i < img.length; i++) img[i] = clamp01((img[i] as number) + delta)
        break
      }
      case 'contrast': {
        const f = 0.8 + rng.next() * 0.4
        for (let i = 0; i < img.length; i++) img[i] = clamp01(((img[i] as number) - 0.5) * f + 0.5)
        break
      }
      case 'gamma': {
        const g = 0.8 + rng.next() * 0.4
        for (let i = 0; i < img.length; i++) img[i] = Math.pow(img[i] as number, g)
        break
      }
      case 'blur':
        if (rng.next() < 0.3) {
          const src = img.slice()
          for (let y = 0; y < size; y++) {
            for (let x = 0; x < size; x++) {
              for (let c = 0; c < channels; c++) {
                let sum = 0
                let n = 0
                for (let yy = Math.max(0, y - 1); yy <= Math.min(size - 1, y + 1); yy++) {
                  for (let xx = Math.max(0, x - 1); xx <= Math.min(size - 1, x + 1); xx++) {
                    sum += src[(yy * size + xx) * channels + c] as number
                    n++
                  }
                }
                img[(y * size + x) * channels + c] = sum / n
              }
            }
          }
        }
        break
      case 'noise': {
        const sigma = rng.next() * 0.03
        for (let i = 0; i < img.length; i++) img[i] = clamp01((img[i] as number) + (rng.next() - 0.5) * 2 * sigma)
        break
      }
      default:
        break
    }
  }
  void plane
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v
}
