import { type Tensor4D, tensor4d } from '@tensorflow/tfjs-core'
import { type Augmentation, type Batch, createBatcher, prepareImage } from '@unet/data'
import { checkOption } from './errors'
import { type SizeMode, tgsPrepareSpec } from './resize'

/** What a batch is built from: a train sample (mask required) or any image with a depth. */
export interface BatchSample {
  image: Float32Array
  mask: Uint8Array
  depth: number
  height: number
  width: number
}

/** One batch: NHWC inputs and targets at the model size. The consumer disposes them. */
export interface TgsBatch {
  /** `[batch, size, size, 1]`, or `[batch, size, size, 2]` with the depth channel. */
  xs: Tensor4D
  /** `[batch, size, size, 1]` 0/1 masks. */
  ys: Tensor4D
}

/** How depth is given to the model as a second, constant input channel. */
export interface DepthChannelOptions {
  /** Depth mapped to 0. Default 0 (feet). */
  min?: number
  /** Depth mapped to 1. Default 1000 (feet; TGS depths run 51…959). */
  max?: number
}

/** Options of {@link createBatches}. */
export interface BatchOptions {
  /** Samples per batch. Default 32. */
  batchSize?: number
  /** Model input side. Default 128. */
  size?: number
  /** `'resize'` (default) or `'pad'`: see {@link toModelSize}. */
  mode?: SizeMode
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean
  /** Seed of the shuffles and augmentations. Default 0. */
  seed?: number
  /** Applied to each sample at its own size, before sizing; see `@unet/data`'s `createAugmentation`. */
  augment?: Augmentation
  /** Add depth as a second input channel: `true` (0…1000 ft → 0…1) or a range. Default off. */
  depthChannel?: boolean | DepthChannelOptions
  /** Batches prepared ahead of the consumer (typed arrays, not tensors). Default 2. */
  prefetch?: number
  /** Leave out the last, smaller batch. Default false. */
  dropRemainder?: boolean
}

/**
 * Batches for one or more epochs: each `for await` over it is one epoch (a new
 * shuffle and new augmentations, derived from the seed and the epoch number).
 */
export interface TgsBatches extends AsyncIterable<TgsBatch> {
  /** Batches in one epoch. */
  readonly batchesPerEpoch: number
  /** Samples in one epoch. */
  readonly sampleCount: number
  /** Channels of `xs`: 1, or 2 with the depth channel. */
  readonly channels: number
  /**
   * The batches as a dataset for tfjs-layers' `model.fitDataset` (which
   * disposes each batch after use): `{ size, iterator() }`, one epoch per iterator.
   */
  toDataset(): { size: number; iterator(): Promise<{ next(): Promise<IteratorResult<TgsBatch>> }> }
}

function depthRange(option: BatchOptions['depthChannel']): { min: number; max: number } | undefined {
  const depth = option === true ? {} : option || undefined
  if (depth === undefined) return undefined
  const range = { min: depth.min ?? 0, max: depth.max ?? 1000 }
  checkOption(range.max > range.min, `depthChannel max (${range.max}) must be above min (${range.min})`)
  return range
}

function noDepthMessage(id: string | undefined): string {
  return (
    `depthChannel needs a depth for every sample, but ${id ?? 'a sample'} has none (no depths.csv, or no row for it); ` +
    "add the depths, or train without the depth channel (leave depthChannel off; read with missingDepths: 'error' to find the missing ids)"
  )
}

/**
 * Turns TGS samples into training batches of `{ xs, ys }` tensors at the model
 * size, shuffled, augmented, optionally with a depth channel: `@unet/data`'s
 * batcher (bounded prefetch, batch k of epoch e deterministic) with tensors
 * made when a batch is handed out. The consumer disposes them. Never picks a backend.
 *
 * @param samples - train samples (`image`, `mask`, `depth`, `height`, `width`)
 * @param options - see {@link BatchOptions}
 * @returns an async iterable of batches, one epoch per iteration
 * @example
 * ```ts
 * const batches = createBatches(train, { batchSize: 16, size: 128, mode: 'pad', augment: horizontalFlip() })
 * for await (const { xs, ys } of batches) {
 *   await model.trainOnBatch(xs, ys)
 *   xs.dispose(); ys.dispose()
 * }
 * ```
 */
export function createBatches(samples: readonly BatchSample[], options: BatchOptions = {}): TgsBatches {
  const spec = tgsPrepareSpec(options)
  const depth = depthRange(options.depthChannel)
  for (const s of samples) {
    checkOption(
      s.image.length === s.height * s.width && s.mask?.length === s.image.length,
      `every sample needs an image and a mask of height × width pixels; one has ${s.image.length} image and ${s.mask?.length ?? 'no'} mask values for ${s.height}×${s.width}`,
    )
    if (depth) checkOption(Number.isFinite(s.depth), noDepthMessage((s as { id?: string }).id))
  }
  const batcher = createBatcher(samples, {
    prepare: spec,
    batchSize: options.batchSize ?? 32,
    shuffle: options.shuffle ?? true,
    seed: options.seed ?? 0,
    prefetch: options.prefetch ?? 2,
    dropRemainder: options.dropRemainder ?? false,
    ...(options.augment ? { augment: options.augment } : {}),
    ...(depth ? { extraChannels: { count: 1, values: (s: BatchSample) => [(s.depth - depth.min) / (depth.max - depth.min)] } } : {}),
  })
  const channels = depth ? 2 : 1
  const toTensors = (b: Batch): TgsBatch => ({
    xs: tensor4d(b.xs, b.shape),
    ys: tensor4d(b.ys, [b.shape[0], b.shape[1], b.shape[2], 1]),
  })
  let epochs = 0
  async function* epoch(): AsyncGenerator<TgsBatch> {
    for await (const b of batcher.epoch(epochs++)) yield toTensors(b)
  }
  return {
    batchesPerEpoch: batcher.batchesPerEpoch,
    sampleCount: batcher.sampleCount,
    channels,
    [Symbol.asyncIterator]: epoch,
    toDataset: () => ({
      size: batcher.batchesPerEpoch,
      iterator: async () => {
        const it = epoch()
        return { next: () => it.next() }
      },
    }),
  }
}

/**
 * Stacks images (test images, or validation images for prediction) into one
 * `[n, size, size, channels]` input tensor, sized like {@link createBatches} does.
 *
 * @param images - images with `height`, `width` and (for the depth channel) `depth`
 * @param options - `size`, `mode`, `depthChannel` as given to {@link createBatches}
 * @returns the input tensor; the caller disposes it
 * @example
 * ```ts
 * const xs = toInputTensor(test.slice(0, 32), { size: 128, mode: 'pad' })
 * const probabilities = model.predict(xs)
 * ```
 */
export function toInputTensor(
  images: ReadonlyArray<{ image: Float32Array; height: number; width: number; depth?: number; id?: string }>,
  options: Pick<BatchOptions, 'size' | 'mode' | 'depthChannel'> = {},
): Tensor4D {
  const spec = tgsPrepareSpec(options)
  const depth = depthRange(options.depthChannel)
  const channels = depth ? 2 : 1
  const plane = spec.width * spec.height
  const xs = new Float32Array(images.length * plane * channels)
  images.forEach((s, b) => {
    const x = prepareImage(s.image, { width: s.width, height: s.height, channels: 1 }, spec)
    if (!depth) xs.set(x, b * plane)
    else {
      checkOption(Number.isFinite(s.depth), noDepthMessage(s.id))
      const d = (s.depth! - depth.min) / (depth.max - depth.min)
      for (let p = 0; p < plane; p++) {
        xs[b * plane * 2 + 2 * p] = x[p]!
        xs[b * plane * 2 + 2 * p + 1] = d
      }
    }
  })
  return tensor4d(xs, [images.length, spec.height, spec.width, channels])
}
