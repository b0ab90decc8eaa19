import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { PredictError } from './errors'
import { applyView, undoView, type TtaView } from './tta'

/** Options of {@link predictTensor} and {@link predictProbabilities}. */
export interface PredictOptions {
  /** `linear`: the model outputs logits (a sigmoid is applied); `sigmoid`: probabilities. As run.json's `output.activation`. */
  readonly activation: 'sigmoid' | 'linear'
  /** Views averaged with the plain one (default none). */
  readonly tta?: readonly TtaView[]
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
 * Predicts a batch (NHWC, prepared at the model's size) and returns the foreground probabilities (N×H×W×1),
 * averaged over the plain view and each TTA view after the view is undone. Synchronous and tidy: the caller
 * owns (and disposes) only the returned tensor.
 *
 * @param model - the model
 * @param x - the batch
 * @param options - activation and views; `plainOutput` sees the plain view's raw output inside the tidy scope
 *   (e.g. to compute a validation loss: `tf.keep` what you keep)
 * @returns the probabilities
 * @example
 * ```ts
 * const p = predictTensor(model, x, { activation: 'sigmoid', tta: ['hflip'] })
 * ```
 */
export function predictTensor(
  model: LayersModel,
  x: tf.Tensor4D,
  options: PredictOptions & { readonly plainOutput?: (raw: tf.Tensor4D) => void },
): tf.Tensor4D {
  const views = options.tta ?? []
  return tf.tidy(() => {
    const toProbability = (raw: tf.Tensor4D): tf.Tensor4D => {
      // one class: the first output channel is the foreground
      const first = raw.shape[3] === 1 ? raw : (tf.slice(raw, [0, 0, 0, 0], [-1, -1, -1, 1]) as tf.Tensor4D)
      return options.activation === 'linear' ? tf.sigmoid(first) : first
    }
    const raw = model.predict(x) as tf.Tensor4D
    options.plainOutput?.(raw)
    let sum = toProbability(raw)
    for (const view of views) {
      const y = toProbability(model.predict(applyView(view, x)) as tf.Tensor4D)
      sum = tf.add(sum, undoView(view, y))
    }
    return views.length === 0 ? sum : tf.div(sum, views.length + 1)
  })
}

/** The images handed to {@link predictProbabilities}: `count` images of `height × width × channels`, pixel-interleaved, one after another. */
export interface ImageBatch {
  readonly data: Float32Array
  readonly count: number
  readonly height: number
  readonly width: number
  readonly channels: number
}

/**
 * Predicts prepared images in batches of `batchSize`, with TTA, and returns one `height × width` probability
 * map per image (row-major). Awaits each batch's result, so image decoding of the next chunk (sharp's threads)
 * runs alongside.
 *
 * @param model - the model
 * @param images - images at the model's input size, scaled as the run says
 * @param options - activation, TTA views, batch size (default 8)
 * @returns one probability map per image
 * @throws {PredictError} `MODEL_MISMATCH` when the model cannot take these images
 * @example
 * ```ts
 * const maps = await predictProbabilities(model, { data, count: 2, height: 128, width: 128, channels: 1 }, { activation: 'sigmoid', tta: ['hflip'] })
 * ```
 */
export async function predictProbabilities(model: LayersModel, images: ImageBatch, options: PredictOptions & { readonly batchSize?: number }): Promise<Float32Array[]> {
  const { count, height, width, channels } = images
  const pixels = height * width
  if (images.data.length !== count * pixels * channels) {
    throw new PredictError('BAD_OPTION', `predictProbabilities: ${images.data.length} values do not make ${count} images of ${width}×${height}×${channels}`)
  }
  checkModelInput(model, { height, width, channels }, options.tta)
  const batchSize = Math.max(1, options.batchSize ?? 8)
  const out: Float32Array[] = []
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start)
    const x = tf.tensor4d(images.data.subarray(start * pixels * channels, (start + n) * pixels * channels), [n, height, width, channels])
    let p: tf.Tensor4D
    try {
      p = predictTensor(model, x, options)
    } finally {
      x.dispose()
    }
    const data = (await p.data()) as Float32Array
    p.dispose()
    for (let i = 0; i < n; i++) out.push(data.subarray(i * pixels, (i + 1) * pixels))
  }
  return out
}
