import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core'

// The stock wasm kernels must be registered before ours replace them, or importing the backend later
// would put its slow Conv2DBackpropInput back.
import '@tensorflow/tfjs-backend-wasm'

import { makeAdamUpdate, overrideAdam } from './adam'
import { makeBatchNormGrad, overrideBatchNormGradient } from './batch-norm-grad'
import { makeConv2DBackpropFilter } from './conv2d-backprop-filter'
import { makeConv2DBackpropInput } from './conv2d-backprop-input'
import { patchConvLayerInputGradient } from './conv-layer'
import {
  makeTrainingBatchNorm,
  makeTrainingBatchNormGrad,
  patchBatchNormalizationLayer,
  TRAINING_BATCH_NORM,
  TRAINING_BATCH_NORM_GRAD,
  TRAINING_BATCH_NORM_RELU,
  TRAINING_BATCH_NORM_RELU_GRAD,
  useTrainingBatchNorm,
} from './batch-norm-train'
import { makeCast, makeIdentity } from './identity'
import { makeReluGrad, makeSquareGrad, overrideElementwiseGradients } from './elementwise-grads'
import { makeBroadcastChannels, overrideReductionGradients } from './reduction-grads'
import { makePointwiseConv2D } from './pointwise'
import { makeWinogradFusedConv2D } from './winograd'
import { makeChannelAdd, makeConcat, makeFusedBatchNorm, makeMaxPoolGrad, makeMean, makeSplitV, makeSum } from './layout-kernels'

export { WasmKernelError } from './errors'
export type { WasmKernelErrorCode } from './errors'

let registered: string[] | null = null

/**
 * Registers the kernels the tfjs wasm backend needs to train a convolutional network, and fast versions of
 * the ones a U-Net training step spends its time in:
 * - `Conv2DBackpropFilter` (missing from tfjs-backend-wasm): GEMMs for all filter taps in one pass over views
 *   of the padded input, no im2col; strides > 1 through a space-to-depth fold;
 * - `Conv2DBackpropInput` (also the forward pass of `conv2dTranspose`): one XNNPACK convolution of dy with a
 *   rearranged filter, its phases interleaved for strides > 1 (no multiply spent on inserted zeros);
 * - `FusedBatchNorm`, `Mean`, `Sum`, `Concat`, `SplitV`, `MaxPoolGrad`, `Identity`, and `Add` of a
 *   per-channel bias: one pass over the data for the channels-last cases a U-Net hits, the stock kernel
 *   otherwise;
 * - tfjs-layers' `BatchNormalization` layer in training mode (patched globally, its own call on every other
 *   backend and in inference): one `UnetBatchNormTrain` kernel (the batch's mean and variance and the
 *   normalized output, two SIMD passes) and one `UnetBatchNormTrainGrad` backward (two passes), instead of
 *   tfjs's `moments` + `batchNormalization` and their gradients (see `batch-norm-train.ts`); a batch-norm layer
 *   that only an `Activation('relu')` of the model reads runs `UnetBatchNormTrainRelu` instead (the ReLU in
 *   the same passes, forward and backward; `@unet/runtime-native`'s oneDNN kernel where registered), and that
 *   ReLU layer passes its input on (tfjs-layers'
 *   `LayersModel` training function and training-mode `call`, and `Activation`'s `call`, patched globally to
 *   know the model; see `batch-norm-relu.ts`);
 * - the gradients of `FusedBatchNorm`, `Mean` and `Sum` (registered globally, but they defer to tfjs-core's
 *   own on every backend other than wasm), through the kernels `UnetBatchNormGrad` and
 *   `UnetBroadcastChannels`;
 * - the gradients of `Relu` and `Square` (same rule): one SIMD pass each (`UnetReluGrad`, `UnetSquareGrad`)
 *   instead of Step, Cast and Multiply, and Cast and two Multiply;
 * - `FusedConv2D` with a 3 × 3 filter, stride 1 and 'same' padding (every U-Net convolution but the first
 *   and last; with its bias and ReLU, or without) as Winograd F(2×2, 3×3), fused per block of tiles: 16
 *   products on our own wasm SIMD GEMM (fused multiply-adds where the engine has relaxed SIMD) with 4/9 of
 *   the multiply-adds, the transforms in wasm SIMD; the same for the input gradient of such a convolution
 *   and, with ≥ 32 channels, its filter gradient; other convolutions through the stock kernel;
 * - `Conv2D` 1 × 1, stride 1 (the phases of a transposed convolution): one product on our own GEMM;
 * - `Cast` to the same dtype shares the buffer (tfjs-core's `moments` casts float32 to float32 in every batch
 *   norm) instead of copying it;
 * - tfjs's `AdamOptimizer` update (patched globally, tfjs-core's own code on every other backend): one
 *   `UnetAdamUpdate` pass per variable instead of 14 element-wise kernels, each a thread-pool round trip;
 * - tfjs-layers' `Conv2D` layer (patched globally, its own call on every other backend and in inference): a
 *   convolution of the model's input with no bias and a linear activation runs as `tf.conv2d` while a
 *   gradient is recorded, whose input gradient is computed only when asked, so the first convolution no
 *   longer computes dL/d(image), which nothing reads (see `conv-layer.ts`).
 *
 * Gradients agree with the cpu backend. Safe to call more than once, before or after the wasm backend has
 * started; later calls change nothing. Call it after `@tensorflow/tfjs-layers` (or tfjs-core's
 * `register_all_gradients`) is loaded, so that the gradients it refines are there to refine.
 *
 * @returns the names of the kernels registered for the `'wasm'` backend.
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core'
 * import '@tensorflow/tfjs-backend-wasm'
 * import { registerWasmTrainingKernels } from '@unet/runtime'
 *
 * registerWasmTrainingKernels() // ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Identity', …]
 * await tf.setBackend('wasm')
 * ```
 */
export function registerWasmTrainingKernels(): string[] {
  // Each time: tfjs-layers may have been imported after an earlier call.
  patchConvLayerInputGradient()
  patchBatchNormalizationLayer()
  if (registered !== null) return [...registered]
  const stockInput = getKernel('Conv2DBackpropInput', 'wasm')
  const configs: KernelConfig[] = [
    makeConv2DBackpropFilter(),
    makeConv2DBackpropInput(stockInput),
    makeIdentity(getKernel('Identity', 'wasm')),
    makeBatchNormGrad(),
    makeMean(),
    makeSum(),
    makeConcat(),
    makeSplitV(),
    makeMaxPoolGrad(),
    makeFusedBatchNorm(),
    makeChannelAdd(),
    makeTrainingBatchNorm(),
    makeTrainingBatchNormGrad(),
    makeTrainingBatchNorm(true),
    makeTrainingBatchNormGrad(true),
    makeBroadcastChannels(),
    makeAdamUpdate(),
    makeReluGrad(),
    makeSquareGrad(),
    makeCast(getKernel('Cast', 'wasm')),
    makeWinogradFusedConv2D(),
    makePointwiseConv2D(),
  ]
  for (const config of configs) {
    if (getKernel(config.kernelName, 'wasm') !== undefined) unregisterKernel(config.kernelName, 'wasm')
    registerKernel(config)
  }
  overrideBatchNormGradient()
  useTrainingBatchNorm(TRAINING_BATCH_NORM, TRAINING_BATCH_NORM_GRAD, { forward: TRAINING_BATCH_NORM_RELU, grad: TRAINING_BATCH_NORM_RELU_GRAD })
  overrideReductionGradients()
  overrideAdam()
  overrideElementwiseGradients()
  registered = configs.map((c) => c.kernelName)
  return [...registered]
}
