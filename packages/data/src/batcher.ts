import type { Augmentation } from './augment'
import { checkOption } from './errors'
import { type MaskInterpolation, type PrepareSpec, prepareImage, prepareMask } from './prepare'
import { createRng, deriveSeed, shuffleInPlace } from './rng'

/** What the batcher reads: an image at its own size (channels interleaved) with its 0/1 mask. */
export interface BatchSample {
  id?: string
  image: Float32Array
  mask?: Uint8Array
  width: number
  height: number
  /** Default: `image.length / (width × height)`. */
  channels?: number
}

/**
 * Where the batcher gets sample i: an array in memory, or a loader that
 * decodes on demand (see `createSampleLoader`), so data bigger than memory streams.
 */
export interface BatchSource<S extends BatchSample = BatchSample> {
  readonly length: number
  get(index: number): S | Promise<S>
}

/** One batch of typed arrays, NHWC, ready for `tf.tensor4d(xs, shape)`. */
export interface Batch {
  /** `n × height × width × channels` inputs. */
  xs: Float32Array
  /** `n × height × width × 1` 0/1 targets. */
  ys: Float32Array
  /** `[n, height, width, channels]`. */
  shape: [number, number, number, number]
  /** Sample ids (or indices as text) in batch order. */
  ids: string[]
  /** Sample indices into the source, in batch order. */
  indices: number[]
  epoch: number
  step: number
}

/** Options of {@link createBatcher}. */
export interface BatcherOptions<S extends BatchSample = BatchSample> {
  /** The model size and how samples get there (see {@link prepareImage}). */
  prepare: PrepareSpec
  /** Samples per batch. Default 32. */
  batchSize?: number
  /** How masks are resized (default `'threshold'`). */
  maskInterpolation?: MaskInterpolation
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean
  /** Seed of the shuffles and augmentations. Default 0. */
  seed?: number
  /** Applied to each sample at its own size, before preparing. */
  augment?: Augmentation
  /** Batches prepared ahead of the consumer. Default 2. */
  prefetch?: number
  /** Sample loads in flight at once within a batch (for loaders that decode). Default 4. */
  concurrency?: number
  /** Leave out the last, smaller batch. Default false. */
  dropRemainder?: boolean
  /** Constant input planes appended after the image channels (TGS: depth), one value per plane. */
  extraChannels?: { count: number; values(sample: S): ArrayLike<number> }
}

/**
 * The one batcher: deterministic batches of any sample source. Batch k of
 * epoch e is a pure function of (seed, e, k), so a training loop can resume
 * mid-epoch and see exactly the batches an uninterrupted run would.
 */
export interface Batcher {
  readonly batchesPerEpoch: number
  readonly sampleCount: number
  /** Channels of `xs` (image channels plus extra planes); known after the first batch unless given. */
  readonly inputShape: { height: number; width: number }
  /** The sample order of an epoch (seeded shuffle, or 0…n−1). */
  order(epoch: number): number[]
  /** Batch `step` of `epoch`, prepared now. */
  batch(epoch: number, step: number): Promise<Batch>
  /**
   * The batches of one epoch from `fromStep` (default 0), with at most
   * `prefetch` prepared ahead of the consumer, so memory stays bounded.
   */
  epoch(epoch: number, options?: { fromStep?: number }): AsyncGenerator<Batch>
}

const defer: (f: () => void) => void = typeof setImmediate === 'function' ? (f) => setImmediate(f) : (f) => setTimeout(f, 0)

/**
 * Creates the batcher over in-memory samples or a streaming loader: seeded
 * shuffle per epoch, augmentation seeded per (epoch, sample), preparing to the
 * model size with {@link prepareImage} / {@link prepareMask}, bounded prefetch.
 * Typed arrays out, no tensors: the library never picks a backend.
 *
 * @param source - an array of samples, or a {@link BatchSource}
 * @param options - see {@link BatcherOptions}
 * @returns the batcher
 * @example
 * ```ts
 * const batcher = createBatcher(train, { batchSize: 8, prepare: { width: 384, height: 192, mode: 'resize' }, seed: 1 })
 * for await (const { xs, ys, shape } of batcher.epoch(0)) {
 *   // tf.tensor4d(xs, shape), tf.tensor4d(ys, [shape[0], shape[1], shape[2], 1]) …
 * }
 * const again = await batcher.batch(0, 3) // the same fourth batch, any time
 * ```
 */
export function createBatcher<S extends BatchSample>(source: readonly S[] | BatchSource<S>, options: BatcherOptions<S>): Batcher {
  const src: BatchSource<S> = Array.isArray(source) ? { length: source.length, get: (i) => (source as readonly S[])[i]! } : (source as BatchSource<S>)
  const batchSize = options.batchSize ?? 32
  const prefetch = options.prefetch ?? 2
  const concurrency = options.concurrency ?? 4
  const seed = options.seed ?? 0
  const shuffle = options.shuffle ?? true
  const spec = options.prepare
  checkOption(spec !== undefined && typeof spec === 'object', 'createBatcher needs { prepare: { width, height, mode } }')
  checkOption(Number.isInteger(batchSize) && batchSize > 0, `batchSize must be a positive integer, got ${batchSize}`)
  checkOption(Number.isInteger(prefetch) && prefetch >= 0, `prefetch must be a non-negative integer, got ${prefetch}`)
  checkOption(Number.isInteger(concurrency) && concurrency > 0, `concurrency must be a positive integer, got ${concurrency}`)
  const count = src.length
  const batchesPerEpoch = options.dropRemainder ? Math.floor(count / batchSize) : Math.ceil(count / batchSize)
  const plane = spec.width * spec.height
  const extra = options.extraChannels

  const order = (epoch: number): number[] => {
    const o = Array.from({ length: count }, (_, i) => i)
    return shuffle ? shuffleInPlace(o, createRng(deriveSeed(seed, epoch, 0x5eed))) : o
  }
  let cachedOrder: { epoch: number; order: number[] } | undefined
  const orderOf = (epoch: number): number[] => {
    if (cachedOrder?.epoch !== epoch) cachedOrder = { epoch, order: order(epoch) }
    return cachedOrder.order
  }

  const prepareOne = (s: S, index: number, epoch: number): { x: Float32Array; y: Uint8Array; channels: number } => {
    const channels = s.channels ?? s.image.length / (s.width * s.height)
    checkOption(
      Number.isInteger(channels) && s.image.length === s.width * s.height * channels,
      `sample ${s.id ?? index}: image has ${s.image.length} values for ${s.width}×${s.height}×${channels}`,
    )
    checkOption(s.mask !== undefined && s.mask.length === s.width * s.height, `sample ${s.id ?? index}: needs a mask of ${s.width}×${s.height} values, has ${s.mask?.length ?? 'none'}`)
    let image = s.image
    let mask = s.mask
    let width = s.width
    let height = s.height
    if (options.augment) {
      // Seeded per (epoch, sample), so results do not depend on batch size, prefetch or resume point.
      const out = options.augment.apply({ image, mask, height, width }, createRng(deriveSeed(seed, epoch, index)))
      image = out.image
      mask = out.mask ?? mask
      width = out.width
      height = out.height
    }
    const size = { width, height, channels }
    return {
      x: prepareImage(image, size, spec),
      y: prepareMask(mask, size, spec, options.maskInterpolation ? { interpolation: options.maskInterpolation } : {}),
      channels,
    }
  }

  const load = async (indices: number[]): Promise<S[]> => {
    const out = new Array<S>(indices.length)
    let next = 0
    await Promise.all(
      Array.from({ length: Math.min(concurrency, indices.length) }, async () => {
        while (next < indices.length) {
          const i = next++
          out[i] = await src.get(indices[i]!)
        }
      }),
    )
    return out
  }

  const batch = async (epoch: number, step: number): Promise<Batch> => {
    checkOption(Number.isInteger(epoch) && epoch >= 0, `epoch must be a non-negative integer, got ${epoch}`)
    checkOption(Number.isInteger(step) && step >= 0 && step < batchesPerEpoch, `step must be in 0…${batchesPerEpoch - 1}, got ${step}`)
    const indices = orderOf(epoch).slice(step * batchSize, Math.min(count, (step + 1) * batchSize))
    const samples = await load(indices)
    let xs: Float32Array | undefined
    let inputChannels = 0
    const ys = new Float32Array(indices.length * plane)
    samples.forEach((s, b) => {
      const { x, y, channels } = prepareOne(s, indices[b]!, epoch)
      const c = channels + (extra?.count ?? 0)
      if (xs === undefined) {
        inputChannels = c
        xs = new Float32Array(indices.length * plane * c)
      }
      checkOption(c === inputChannels, `sample ${s.id ?? indices[b]} has ${channels} channel(s), others ${inputChannels - (extra?.count ?? 0)}: a batch needs one channel count (convert grey to RGB or back first)`)
      const base = b * plane * c
      if (extra === undefined) xs.set(x, base)
      else {
        const values = extra.values(s)
        checkOption(values.length === extra.count, `extraChannels.values gave ${values.length} values, count is ${extra.count}`)
        for (let p = 0; p < plane; p++) {
          const o = base + p * c
          for (let k = 0; k < channels; k++) xs[o + k] = x[p * channels + k]!
          for (let k = 0; k < extra.count; k++) xs[o + channels + k] = values[k]!
        }
      }
      for (let p = 0; p < plane; p++) ys[b * plane + p] = y[p]!
    })
    return {
      xs: xs ?? new Float32Array(0),
      ys,
      shape: [indices.length, spec.height, spec.width, inputChannels],
      ids: samples.map((s, b) => s.id ?? String(indices[b])),
      indices,
      epoch,
      step,
    }
  }

  async function* epochBatches(epoch: number, opts: { fromStep?: number } = {}): AsyncGenerator<Batch> {
    const from = opts.fromStep ?? 0
    checkOption(Number.isInteger(from) && from >= 0 && from <= batchesPerEpoch, `fromStep must be in 0…${batchesPerEpoch}, got ${from}`)
    const queue: Array<Promise<Batch>> = []
    let next = from
    const fill = (): void => {
      while (queue.length < Math.max(1, prefetch) && next < batchesPerEpoch) {
        const k = next++
        // Deferred, so the consumer's own async work (a training step) runs between batches.
        const p = new Promise<Batch>((resolve, reject) => defer(() => batch(epoch, k).then(resolve, reject)))
        p.catch(() => undefined) // seen when awaited below; never an unhandled rejection if the consumer stops early
        queue.push(p)
      }
    }
    fill()
    while (queue.length > 0) {
      const b = await queue.shift()!
      if (prefetch > 0) fill()
      yield b
      if (prefetch === 0) fill()
    }
  }

  return {
    batchesPerEpoch,
    sampleCount: count,
    inputShape: { height: spec.height, width: spec.width },
    order: (epoch) => order(epoch),
    batch,
    epoch: epochBatches,
  }
}
