import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core'

// The stock wasm kernels must be registered before ours replace them, or importing the backend later
// would put its slow Conv2DBackpropInput back.
import '@tensorflow/tfjs-backend-wasm'

import { makeBatchNormGrad, overrideBatchNormGradient } from './batch-norm-grad'
import { makeConv2DBackpropFilter } from './conv2d-backprop-filter'
import { makeConv2DBackpropInput } from './conv2d-backprop-input'
import { makeIdentity } from './identity'
import { makeBroadcastChannels, overrideReductionGradients } from './reduction-grads'
import { makeConcat, makeFusedBatchNorm, makeMaxPoolGrad, makeMean, makeSplitV, makeSum } from './layout-kernels'

let registered: string[] | null = null

/**
 * Registers the kernels the tfjs wasm backend needs to train a convolutional network: `Conv2DBackpropFilter`
 * (missing from tfjs-backend-wasm) and a faster `Conv2DBackpropInput` (which is also the forward pass of
 * `conv2dTranspose`). Safe to call more than once; later calls change nothing.
 *
 * @returns the names of the kernels registered for the `'wasm'` backend.
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core'
 * import '@tensorflow/tfjs-backend-wasm'
 * import { registerWasmTrainingKernels } from '@unet/runtime'
 *
 * registerWasmTrainingKernels() // ['Conv2DBackpropFilter', 'Conv2DBackpropInput']
 * await tf.setBackend('wasm')
 * ```
 */
export function registerWasmTrainingKernels(): string[] {
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
    makeBroadcastChannels(),
  ]
  for (const config of configs) {
    if (getKernel(config.kernelName, 'wasm') !== undefined) unregisterKernel(config.kernelName, 'wasm')
    registerKernel(config)
  }
  overrideBatchNormGradient()
  overrideReductionGradients()
  registered = configs.map((c) => c.kernelName)
  return [...registered]
}
