import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import type { SymbolicTensor } from '@tensorflow/tfjs-layers'

/**
 * ImageNet channel means (RGB, 0–1 scale), as torchvision and timm normalise.
 *
 * @example
 * ```ts
 * const [red] = IMAGENET_MEAN // 0.485
 * ```
 */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const

/**
 * ImageNet channel standard deviations (RGB, 0–1 scale).
 *
 * @example
 * ```ts
 * const [red] = IMAGENET_STD // 0.229
 * ```
 */
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const

/**
 * Adds ImageNet normalisation in front of an encoder, as layers of the model: `(x · inputScale / 255 − mean) / std`
 * per channel, a grey channel repeated to three. Grey input becomes three weightless rescalings concatenated
 * (`imagenet_preprocess_r/g/b` → `imagenet_preprocess`); RGB a frozen 1×1 convolution `imagenet_preprocess`.
 *
 * @param input - `[batch, h, w, 1 | 3]`
 * @param inputScale - what the input is multiplied by to reach 0–255: 255 for images in [0, 1], 1 for 0–255
 * @returns the normalised `[batch, h, w, 3]`
 */
export function imagenetPreprocess(input: SymbolicTensor, inputScale: number): SymbolicTensor {
  const scale = IMAGENET_STD.map((std) => inputScale / 255 / std)
  const offset = IMAGENET_MEAN.map((mean, c) => -mean / IMAGENET_STD[c]!)
  if (input.shape[3] === 1) {
    const planes = [0, 1, 2].map(
      (c) =>
        tfl.layers
          .rescaling({ scale: scale[c]!, offset: offset[c]!, trainable: false, name: `imagenet_preprocess_${'rgb'[c]!}` })
          .apply(input) as SymbolicTensor,
    )
    return tfl.layers.concatenate({ axis: -1, trainable: false, name: 'imagenet_preprocess' }).apply(planes) as SymbolicTensor
  }
  const layer = tfl.layers.conv2d({ filters: 3, kernelSize: 1, trainable: false, name: 'imagenet_preprocess' })
  const output = layer.apply(input) as SymbolicTensor
  const kernel = new Float32Array(9)
  for (let c = 0; c < 3; c++) kernel[c * 3 + c] = scale[c]!
  tf.tidy(() => layer.setWeights([tf.tensor4d(kernel, [1, 1, 3, 3]), tf.tensor1d(offset)]))
  return output
}
