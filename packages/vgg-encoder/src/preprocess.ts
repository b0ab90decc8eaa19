import * as tf from '@tensorflow/tfjs-core'
import { VggError } from './errors'

/**
 * ImageNet channel means in BGR order, as Keras' 'caffe' preprocessing subtracts them (0–255 scale).
 *
 * @example
 * ```ts
 * const [blue, green, red] = IMAGENET_BGR_MEANS // 103.939, 116.779, 123.68
 * ```
 */
export const IMAGENET_BGR_MEANS = [103.939, 116.779, 123.68] as const

/** Options of {@link vggPreprocess}. */
export interface VggPreprocessOptions {
  /**
   * What the input is multiplied by to reach the 0–255 range the ImageNet weights were trained on.
   * 255 (the default) for images in [0, 1], as `@unet/data-tgs` produces; 1 for images already in 0–255.
   */
  inputScale?: number
}

/**
 * The 1×1 convolution that performs the caffe preprocessing of RGB (or grayscale) images: scale to 0–255,
 * swap RGB to BGR (or repeat grayscale to three channels), subtract the ImageNet means.
 */
export function preprocessWeights(channels: 1 | 3, inputScale: number): { kernel: Float32Array; bias: Float32Array } {
  const kernel = new Float32Array(channels * 3)
  for (let out = 0; out < 3; out++) {
    // grayscale feeds all three outputs; RGB input channel 2 - out becomes BGR output out
    const input = channels === 1 ? 0 : 2 - out
    kernel[input * 3 + out] = inputScale
  }
  return { kernel, bias: Float32Array.from(IMAGENET_BGR_MEANS, (m) => -m) }
}

/**
 * Keras' 'caffe' preprocessing for VGG-16 (`keras.applications.vgg16.preprocess_input`), for models built with
 * `preprocess: 'none'`: scales the images to 0–255, repeats a grayscale channel to three (or reorders RGB to BGR)
 * and subtracts the ImageNet means. A model built with the default `preprocess: 'caffe'` does this itself;
 * do not apply it twice.
 *
 * @param images - a batch `[n, h, w, c]` with c = 1 (grayscale) or 3 (RGB)
 * @param options - `inputScale`: 255 (default) for images in [0, 1], 1 for 0–255
 * @returns a new `[n, h, w, 3]` tensor in BGR order with the means subtracted; the caller disposes it
 * @throws VggError `INVALID_OPTION` when the input is not rank 4 with 1 or 3 channels
 * @example
 * ```ts
 * const x = tf.ones([1, 32, 32, 1])
 * const bgr = vggPreprocess(x) // [1, 32, 32, 3]: 255 - 103.939, 255 - 116.779, 255 - 123.68
 * ```
 */
export function vggPreprocess(images: tf.Tensor4D, options: VggPreprocessOptions = {}): tf.Tensor4D {
  const channels = images.rank === 4 ? images.shape[3] : undefined
  if (channels !== 1 && channels !== 3) {
    throw new VggError(
      'INVALID_OPTION',
      `vggPreprocess: expected images of shape [n, h, w, 1] or [n, h, w, 3], got [${images.shape.join(', ')}]; ` +
        'pass a batch of grayscale or RGB images',
    )
  }
  const inputScale = options.inputScale ?? 255
  const { kernel, bias } = preprocessWeights(channels, inputScale)
  return tf.tidy(() => {
    const weights = tf.tensor4d(kernel, [1, 1, channels, 3])
    return tf.add(tf.conv2d(images, weights, 1, 'valid'), tf.tensor1d(bias)) as tf.Tensor4D
  })
}
