import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { PredictError } from './errors'
import type { RunFile } from './run-file'
import { applyView, undoView, type TtaView } from './tta'

/** Options of {@link predictTensor} and {@link predictProbabilities}. */
export interface PredictOptions {
  /** `linear`: the model outputs logits (a sigmoid is applied); `sigmoid`: probabilities. As run.json's `output.activation`. */
  readonly activation: 'sigmoid' | 'linear'
  /** Views averaged with the plain one (default none). */
  readonly tta?: readonly TtaView[]
  /**
   * Models with a "has mask" classifier output (`has_mask`, `@unet/layers`' `deepSupervision`): images whose
   * classifier probability (averaged over the models and views, like the masks) is below this get an all-zero
   * probability map. `null` or absent: the classifier is not used. Models without that output ignore it.
   */
  readonly emptyThreshold?: number | null
}

/** One model, or several whose probabilities are averaged (k folds, cosine snapshots). */
export type Models = LayersModel | readonly LayersModel[]

/** Name of the "has mask" classifier output (as `@unet/layers`' `HAS_MASK_OUTPUT`; this package does not depend on it). */
const HAS_MASK_OUTPUT = 'has_mask'
/** Name of the main mask output of a multi-output U-Net (as `@unet/layers`' `MASK_OUTPUT`). */
const MASK_OUTPUT = 'output'

/**
 * The mask output, and the "has mask" classifier output when there is one, of what `model.predict` returned: one
 * tensor for a plain U-Net, one per output (`output`, `has_mask`, `dec2_aux`, …) for a deep-supervised one.
 */
function splitOutputs(model: LayersModel, raw: tf.Tensor | tf.Tensor[]): { mask: tf.Tensor4D; hasMask: tf.Tensor | null } {
  if (!Array.isArray(raw)) return { mask: raw as tf.Tensor4D, hasMask: null }
  const names = model.outputNames
  const at = (name: string): number => names.indexOf(name)
  const mask = raw[Math.max(0, at(MASK_OUTPUT))] as tf.Tensor4D
  const hasMask = at(HAS_MASK_OUTPUT) >= 0 ? (raw[at(HAS_MASK_OUTPUT)] as tf.Tensor) : null
  return { mask, hasMask }
}

/**
 * Whether a model has the "has mask" classifier output of `@unet/layers`' deep supervision.
 *
 * @param model - a model
 * @returns true when one of its outputs is `has_mask`
 * @example
 * ```ts
 * hasEmptyClassifier(model) // true for createUnet({ deepSupervision: true })
 * ```
 */
export function hasEmptyClassifier(model: LayersModel): boolean {
  return model.outputNames.includes(HAS_MASK_OUTPUT)
}

/** What a model accepts: its input's height, width and channels (null where any size goes). */
export function modelInputShape(model: LayersModel): { height: number | null; width: number | null; channels: number | null } {
  const shape = model.inputs[0]?.shape ?? []
  return { height: shape[1] ?? null, width: shape[2] ?? null, channels: shape[3] ?? null }
}

/**
 * Checks that `model` can take images of `height × width × channels` in every view of `tta`.
 *
 * @throws {PredictError} `MODEL_MISMATCH` (channels, size) or `BAD_OPTION` (rot90 on a fixed non-square input)
 */
export function checkModelInput(model: LayersModel, shape: { height: number; width: number; channels: number }, tta: readonly TtaView[] = []): void {
  const m = modelInputShape(model)
  if (m.channels !== null && m.channels !== shape.channels) {
    throw new PredictError('MODEL_MISMATCH', `the model takes ${m.channels}-channel images but was given ${shape.channels}-channel ones; prepare images with the run's input.channels`)
  }
  if ((m.height !== null && m.height !== shape.height) || (m.width !== null && m.width !== shape.width)) {
    throw new PredictError('MODEL_MISMATCH', `the model takes ${m.width ?? 'any'}×${m.height ?? 'any'} images but was given ${shape.width}×${shape.height}; prepare images to the run's input size`)
  }
  if (tta.includes('rot90') && shape.height !== shape.width && (m.height !== null || m.width !== null)) {
    throw new PredictError('BAD_OPTION', `TTA view rot90 needs a square model input, and this model takes ${shape.width}×${shape.height}; use hflip, vflip or blur`)
  }
}

/**
 * Whether an image keeps its mask under a "has mask" classifier: its classifier probability is at or above the
 * empty threshold. The one rule behind `emptyThreshold` (`predictTensor`, `predictProbabilities`, so `unet predict`
 * and `unet evaluate`) and the web page.
 *
 * @param hasMask - the classifier's probability that the image has a mask; `null` when the model has no classifier
 * @param emptyThreshold - the empty threshold; `null`: the classifier is not used
 * @returns false when the image's mask is to be zeroed
 * @example
 * ```ts
 * keepsMask(0.3, 0.5) // false: the classifier calls the image empty
 * keepsMask(0.3, null) // true
 * ```
 */
export function keepsMask(hasMask: number | null, emptyThreshold: number | null): boolean {
  return emptyThreshold === null || hasMask === null || hasMask >= emptyThreshold
}

/**
 * The empty threshold a prediction uses: `auto` (or absent) is run.json's `emptyClassifier` threshold when the
 * run has that classifier, else off (`null`). Browser-safe: the web page starts its empty threshold here.
 *
 * @param run - run.json
 * @param given - `auto`, a probability, or `null` for off
 * @returns the threshold, or null
 * @throws {PredictError} `BAD_OPTION` for a probability outside [0, 1]
 * @example
 * ```ts
 * resolveEmptyThreshold(run, 'auto') // 0.5 for a deep-supervised run
 * ```
 */
export function resolveEmptyThreshold(run: Pick<RunFile, 'emptyClassifier'>, given: 'auto' | number | null | undefined): number | null {
  if (given === undefined || given === 'auto') return run.emptyClassifier?.threshold ?? null
  return checkEmptyThreshold(given)
}

/** What {@link predictWithClassifier} returns: the caller owns (and disposes) both tensors. */
export interface ClassifiedTensor {
  /** Foreground probabilities (N×H×W×1), never zeroed by the classifier. */
  readonly probabilities: tf.Tensor4D
  /** Per image (N), the "has mask" classifier's probability, averaged like the masks; null when the model has no classifier. */
  readonly hasMask: tf.Tensor1D | null
}

/**
 * As {@link predictTensor} without an empty threshold, and the "has mask" classifier's probability of each image
 * beside the probabilities, for a caller that applies the classifier itself (with {@link keepsMask}), e.g. at a
 * threshold the user moves after predicting.
 *
 * @param models - the model, or several to average
 * @param x - the batch
 * @param options - activation, views; `plainOutput` as in {@link predictTensor}
 * @returns the probabilities and the classifier's probabilities
 * @throws {PredictError} `BAD_OPTION` for an empty model list
 * @example
 * ```ts
 * const { probabilities, hasMask } = predictWithClassifier(model, x, { activation: 'linear' })
 * ```
 */
export function predictWithClassifier(
  models: Models,
  x: tf.Tensor4D,
  options: Omit<PredictOptions, 'emptyThreshold'> & { readonly plainOutput?: (raw: tf.Tensor4D) => void },
): ClassifiedTensor {
  const list = listModels(models)
  const views = options.tta ?? []
  const [probabilities, hasMask] = tf.tidy(() => {
    const toProbability = (raw: tf.Tensor4D): tf.Tensor4D => {
      // one class: the first output channel is the foreground
      const first = raw.shape[3] === 1 ? raw : (tf.slice(raw, [0, 0, 0, 0], [-1, -1, -1, 1]) as tf.Tensor4D)
      return options.activation === 'linear' ? tf.sigmoid(first) : first
    }
    let sum: tf.Tensor4D | null = null
    let classifierSum: tf.Tensor1D | null = null
    let classifierCount = 0
    for (const [m, model] of list.entries()) {
      for (const view of [null, ...views]) {
        const out = splitOutputs(model, model.predict(view === null ? x : applyView(view, x)) as tf.Tensor | tf.Tensor[])
        if (view === null && m === 0) options.plainOutput?.(out.mask)
        const p = view === null ? toProbability(out.mask) : (undoView(view, toProbability(out.mask)) as tf.Tensor4D)
        sum = sum === null ? p : (tf.add(sum, p) as tf.Tensor4D)
        if (out.hasMask !== null) {
          // the first class's probability that the image has a mask; flips and blur do not move it
          const first = tf.reshape(tf.slice(tf.reshape(out.hasMask, [x.shape[0], -1]), [0, 0], [-1, 1]), [x.shape[0]]) as tf.Tensor1D
          classifierSum = classifierSum === null ? first : (tf.add(classifierSum, first) as tf.Tensor1D)
          classifierCount++
        }
      }
    }
    const mean = tf.div(sum as unknown as tf.Tensor4D, list.length * (views.length + 1)) as tf.Tensor4D
    return classifierSum === null ? [mean] : [mean, tf.div(classifierSum, classifierCount) as tf.Tensor1D]
  }) as [tf.Tensor4D, tf.Tensor1D?]
  return { probabilities, hasMask: hasMask ?? null }
}

/**
 * Predicts a batch (NHWC, prepared at the model's size) and returns the foreground probabilities (N×H×W×1),
 * averaged over the plain view and each TTA view after the view is undone, and over the models when several are
 * given (an ensemble: k folds, cosine snapshots; each gets the same views). A multi-output model (deep supervision)
 * is read through its mask output; with `emptyThreshold`, its "has mask" classifier zeroes the images it calls empty
 * ({@link keepsMask}). Synchronous and tidy: the caller owns (and disposes) only the returned tensor.
 *
 * @param models - the model, or several to average
 * @param x - the batch
 * @param options - activation, views, empty threshold; `plainOutput` sees the first model's plain-view raw mask
 *   output inside the tidy scope (e.g. to compute a validation loss: `tf.keep` what you keep)
 * @returns the probabilities
 * @throws {PredictError} `BAD_OPTION` for an empty model list or an empty threshold outside [0, 1]
 * @example
 * ```ts
 * const p = predictTensor(model, x, { activation: 'sigmoid', tta: ['hflip'] })
 * const averaged = predictTensor([fold0, fold1, fold2], x, { activation: 'linear', tta: ['hflip'], emptyThreshold: 0.5 })
 * ```
 */
export function predictTensor(
  models: Models,
  x: tf.Tensor4D,
  options: PredictOptions & { readonly plainOutput?: (raw: tf.Tensor4D) => void },
): tf.Tensor4D {
  const emptyThreshold = checkEmptyThreshold(options.emptyThreshold)
  const { probabilities, hasMask } = predictWithClassifier(models, x, options)
  if (hasMask === null) return probabilities
  try {
    if (emptyThreshold === null) return probabilities
    const keep = Float32Array.from(hasMask.dataSync(), (p) => (keepsMask(p, emptyThreshold) ? 1 : 0))
    if (keep.every((k) => k === 1)) return probabilities
    const zeroed = tf.tidy(() => tf.mul(probabilities, tf.tensor4d(keep, [keep.length, 1, 1, 1])) as tf.Tensor4D)
    probabilities.dispose()
    return zeroed
  } finally {
    hasMask.dispose()
  }
}

function listModels(models: Models): readonly LayersModel[] {
  const list = Array.isArray(models) ? (models as readonly LayersModel[]) : [models as LayersModel]
  if (list.length === 0) throw new PredictError('BAD_OPTION', 'predict: no model given; pass a model or a non-empty list of models to average')
  return list
}

function checkEmptyThreshold(t: number | null | undefined): number | null {
  if (t === undefined || t === null) return null
  if (!(typeof t === 'number' && t >= 0 && t <= 1)) throw new PredictError('BAD_OPTION', `empty threshold ${JSON.stringify(t)} is not a probability in [0, 1]; give a probability, or none to keep every mask`)
  return t
}

/** The images handed to {@link predictProbabilities}: `count` images of `height × width × channels`, pixel-interleaved, one after another. */
export interface ImageBatch {
  readonly data: Float32Array
  readonly count: number
  readonly height: number
  readonly width: number
  readonly channels: number
}

/** What {@link predictImages} returns. */
export interface ClassifiedImages {
  /** One `height × width` probability map per image (row-major), never zeroed by the classifier. */
  readonly probabilities: Float32Array[]
  /** Per image, the "has mask" classifier's probability (averaged like the maps); null when the model has no classifier. */
  readonly hasMask: Float32Array | null
}

/**
 * As {@link predictProbabilities} without an empty threshold, and the "has mask" classifier's probability of each
 * image beside its map, for a caller that applies the classifier itself with {@link keepsMask} (the web page, whose
 * user moves the empty threshold after predicting).
 *
 * @param models - the model, or several whose probabilities are averaged
 * @param images - images at the model's input size, scaled as the run says
 * @param options - activation, TTA views, batch size (default 8)
 * @returns the maps, and the classifier's probabilities (null without a classifier)
 * @throws {PredictError} `MODEL_MISMATCH` when the model cannot take these images
 * @example
 * ```ts
 * const { probabilities, hasMask } = await predictImages(model, { data, count: 2, height: 128, width: 128, channels: 1 }, { activation: 'linear' })
 * const kept = probabilities.map((p, i) => (keepsMask(hasMask?.[i] ?? null, 0.5) ? p : new Float32Array(p.length)))
 * ```
 */
export async function predictImages(models: Models, images: ImageBatch, options: Omit<PredictOptions, 'emptyThreshold'> & { readonly batchSize?: number }): Promise<ClassifiedImages> {
  const { count, height, width, channels } = images
  const pixels = height * width
  if (images.data.length !== count * pixels * channels) {
    throw new PredictError('BAD_OPTION', `predict: ${images.data.length} values do not make ${count} images of ${width}×${height}×${channels}`)
  }
  for (const model of listModels(models)) checkModelInput(model, { height, width, channels }, options.tta)
  const batchSize = Math.max(1, options.batchSize ?? 8)
  const probabilities: Float32Array[] = []
  let hasMask: Float32Array | null = null
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start)
    const x = tf.tensor4d(images.data.subarray(start * pixels * channels, (start + n) * pixels * channels), [n, height, width, channels])
    let p: ClassifiedTensor
    try {
      p = predictWithClassifier(models, x, options)
    } finally {
      x.dispose()
    }
    try {
      const data = (await p.probabilities.data()) as Float32Array
      for (let i = 0; i < n; i++) probabilities.push(data.subarray(i * pixels, (i + 1) * pixels))
      if (p.hasMask !== null) {
        hasMask ??= new Float32Array(count)
        hasMask.set((await p.hasMask.data()) as Float32Array, start)
      }
    } finally {
      p.probabilities.dispose()
      p.hasMask?.dispose()
    }
  }
  return { probabilities, hasMask }
}

/**
 * Predicts prepared images in batches of `batchSize`, with TTA, and returns one `height × width` probability
 * map per image (row-major). Given several models, it averages them (each with the same TTA views): the
 * ensemble of k folds or cosine snapshots; `emptyThreshold` zeroes the maps of the images a "has mask" classifier
 * calls empty ({@link keepsMask}). Awaits each batch's result, so image decoding of the next chunk (sharp's threads)
 * runs alongside.
 *
 * @param models - the model, or several whose probabilities are averaged
 * @param images - images at the model's input size, scaled as the run says
 * @param options - activation, TTA views, empty threshold, batch size (default 8)
 * @returns one probability map per image
 * @throws {PredictError} `MODEL_MISMATCH` when the model cannot take these images
 * @example
 * ```ts
 * const maps = await predictProbabilities(model, { data, count: 2, height: 128, width: 128, channels: 1 }, { activation: 'sigmoid', tta: ['hflip'] })
 * ```
 */
export async function predictProbabilities(models: Models, images: ImageBatch, options: PredictOptions & { readonly batchSize?: number }): Promise<Float32Array[]> {
  const emptyThreshold = checkEmptyThreshold(options.emptyThreshold)
  const { probabilities, hasMask } = await predictImages(models, images, options)
  if (hasMask !== null) for (const [i, p] of probabilities.entries()) if (!keepsMask(hasMask[i] as number, emptyThreshold)) p.fill(0)
  return probabilities
}
