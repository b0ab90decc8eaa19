/** A batch of images and masks at model size, NHWC, as flat arrays. */
export interface Batch {
  /** Images, `count × height × width × channels`, scaled to [0, 1]. */
  readonly x: Float32Array
  /** Masks, `count × height × width × 1`, 0/1. May be empty where only images are needed. */
  readonly y: Float32Array
  /** Images in the batch. */
  readonly count: number
}

/**
 * The training set as `fit` sees it: any batch of any epoch can be built alone, which is what lets a run resume
 * mid-epoch exactly (@unet/data's batcher provides this; so can a few lines over arrays).
 */
export interface TrainingData {
  /** Images per epoch. */
  readonly count: number
  /** Model input: height, width, channels. */
  readonly inputShape: readonly [number, number, number]
  /** Batch `step` of `epoch`: a pure function of (epoch, step) for a given seed, augmentation included. */
  batch(epoch: number, step: number, batchSize: number): Batch | Promise<Batch>
  /**
   * Un-augmented images in a shuffled order, for batch-norm recalibration before validation; leave it out to
   * skip recalibration.
   */
  plainBatches?(epoch: number, batchSize: number): Iterable<Batch> | AsyncIterable<Batch>
}

/** A validation batch: model-size images and masks, and the truths at each image's own size. */
export interface ValidationBatch extends Batch {
  /** Masks (0/1) at each image's own size: what scores are computed against. */
  readonly truths: readonly Uint8Array[]
  /** Maps image `k`'s model-size probabilities back to its own size (the inverse of the preparation). */
  restore(probabilities: Float32Array, k: number): Float32Array
}

/** The validation set as `fit` sees it. */
export interface ValidationData {
  /** Images. */
  readonly count: number
  /** The images in a fixed order, `batchSize` at a time. */
  batches(batchSize: number): Iterable<ValidationBatch> | AsyncIterable<ValidationBatch>
}

/** What `fit` trains on. */
export interface FitData {
  readonly train: TrainingData
  readonly validation: ValidationData
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
