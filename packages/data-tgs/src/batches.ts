import { type Tensor4D, tensor4d } from '@tensorflow/tfjs-core'
import type { Augmentation } from './augment'
import { checkOption } from './errors'
import { deriveSeed, seededRandom, shuffleInPlace } from './random'
import { type SizeMode, toModelSize } from './resize'

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
  /** Applied to each sample at its own size, before sizing; see {@link compose}. */
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

/**
 * Turns samples into training batches of `{ xs, ys }` tensors at the model
 * size, shuffled, augmented, optionally with a depth channel. Work runs ahead
 * of the consumer by at most `prefetch` batches of typed arrays, so memory
 * stays bounded whatever the dataset size; tensors are created only when a
 * batch is handed out, and the consumer disposes them. Never picks a backend.
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
  const batchSize = options.batchSize ?? 32
  const size = options.size ?? 128
  const mode = options.mode ?? 'resize'
  const shuffle = options.shuffle ?? true
  const seed = options.seed ?? 0
  const prefetch = options.prefetch ?? 2
  const depth = options.depthChannel === true ? {} : options.depthChannel || undefined
  const depthMin = depth?.min ?? 0
  const depthMax = depth?.max ?? 1000
  checkOption(Number.isInteger(batchSize) && batchSize > 0, `batchSize must be a positive integer, got ${batchSize}`)
  checkOption(Number.isInteger(prefetch) && prefetch >= 0, `prefetch must be a non-negative integer, got ${prefetch}`)
  checkOption(depthMax > depthMin, `depthChannel max (${depthMax}) must be above min (${depthMin})`)
  for (const s of samples) {
    checkOption(
      s.image.length === s.height * s.width && s.mask?.length === s.image.length,
      `every sample needs an image and a mask of height × width pixels; one has ${s.image.length} image and ${s.mask?.length ?? 'no'} mask values for ${s.height}×${s.width}`,
    )
    if (depth) {
      checkOption(
        Number.isFinite(s.depth),
        `depthChannel needs a depth for every sample, but ${(s as { id?: string }).id ?? 'a sample'} has none; read with missingDepths: 'error' or leave depthChannel off`,
      )
    }
  }
  const channels = depth ? 2 : 1
  const count = samples.length
  const batchesPerEpoch = options.dropRemainder ? Math.floor(count / batchSize) : Math.ceil(count / batchSize)
  const plane = size * size
  let epochs = 0

  const prepare = (order: number[], batch: number, epoch: number): { xs: Float32Array; ys: Float32Array; n: number } => {
    const start = batch * batchSize
    const n = Math.min(batchSize, count - start)
    const xs = new Float32Array(n * plane * channels)
    const ys = new Float32Array(n * plane)
    for (let b = 0; b < n; b++) {
      const index = order[start + b]!
      const s = samples[index]!
      let image = s.image
      let mask = s.mask
      if (options.augment) {
        // Seeded per (epoch, sample), so results do not depend on batch size or prefetch.
        const out = options.augment.apply({ image, mask, height: s.height, width: s.width }, seededRandom(deriveSeed(seed, epoch, index)))
        image = out.image
        mask = out.mask ?? mask
      }
      const shape = { height: s.height, width: s.width }
      const x = toModelSize(image, shape, { size, mode })
      const y = toModelSize(mask, shape, { size, mode, kind: 'mask' })
      const xOffset = b * plane * channels
      if (channels === 1) xs.set(x, xOffset)
      else {
        const d = (s.depth - depthMin) / (depthMax - depthMin)
        for (let p = 0; p < plane; p++) {
          xs[xOffset + 2 * p] = x[p]!
          xs[xOffset + 2 * p + 1] = d
        }
      }
      ys.set(y, b * plane)
    }
    return { xs, ys, n }
  }

  async function* epoch(): AsyncGenerator<TgsBatch> {
    const e = epochs++
    const order = Array.from({ length: count }, (_, i) => i)
    if (shuffle) shuffleInPlace(order, seededRandom(deriveSeed(seed, e, 0x5eed)))
    const queue: Array<Promise<ReturnType<typeof prepare>>> = []
    let next = 0
    const fill = (): void => {
      while (queue.length < Math.max(1, prefetch) && next < batchesPerEpoch) {
        const b = next++
        // setImmediate lets the consumer's own async work (a training step) run between batches.
        queue.push(new Promise((resolve, reject) => setImmediate(() => {
          try {
            resolve(prepare(order, b, e))
          } catch (err) {
            reject(err)
          }
        })))
      }
    }
    fill()
    while (queue.length > 0) {
      const p = await queue.shift()!
      if (prefetch > 0) fill()
      yield {
        xs: tensor4d(p.xs, [p.n, size, size, channels]),
        ys: tensor4d(p.ys, [p.n, size, size, 1]),
      }
      if (prefetch === 0) fill()
    }
  }

  return {
    batchesPerEpoch,
    sampleCount: count,
    channels,
    [Symbol.asyncIterator]: epoch,
    toDataset: () => ({
      size: batchesPerEpoch,
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
  images: ReadonlyArray<{ image: Float32Array; height: number; width: number; depth?: number }>,
  options: Pick<BatchOptions, 'size' | 'mode' | 'depthChannel'> = {},
): Tensor4D {
  const size = options.size ?? 128
  const mode = options.mode ?? 'resize'
  const depth = options.depthChannel === true ? {} : options.depthChannel || undefined
  const channels = depth ? 2 : 1
  const plane = size * size
  const xs = new Float32Array(images.length * plane * channels)
  images.forEach((s, b) => {
    const x = toModelSize(s.image, { height: s.height, width: s.width }, { size, mode })
    if (channels === 1) xs.set(x, b * plane)
    else {
      checkOption(Number.isFinite(s.depth), 'depthChannel needs a depth for every image')
      const d = ((s.depth ?? 0) - (depth?.min ?? 0)) / ((depth?.max ?? 1000) - (depth?.min ?? 0))
      for (let p = 0; p < plane; p++) {
        xs[b * plane * 2 + 2 * p] = x[p]!
        xs[b * plane * 2 + 2 * p + 1] = d
      }
    }
  })
  return tensor4d(xs, [images.length, size, size, channels])
}
