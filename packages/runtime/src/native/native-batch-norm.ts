import { getKernel, registerKernel, unregisterKernel, type KernelConfig, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core'

import { useTrainingBatchNorm } from '../kernels/batch-norm-train'
import { heapF32, withOutputs, type WasmBackendLike } from '../kernels/wasm-backend'

/** What the batch-norm kernels need from `@unet/runtime-native`'s addon (absent from addons built before it). */
export interface NativeBatchNormAddon {
  batchNormForward(x: Float32Array, scale: Float32Array, shift: Float32Array, y: Float32Array, mean: Float32Array, variance: Float32Array, shape: readonly number[], epsilon: number): void
  batchNormBackward(x: Float32Array, dy: Float32Array, mean: Float32Array, variance: Float32Array, scale: Float32Array, dx: Float32Array, dscale: Float32Array, dshift: Float32Array, shape: readonly number[], epsilon: number): void
}

/** Training-mode batch norm: inputs `x`, `scale`, `offset`; outputs `y`, the batch's `mean` and (biased) `variance`. */
export const NATIVE_BATCH_NORM = 'UnetNativeBatchNorm'
/** Its gradient: inputs `dy`, `x`, `mean`, `variance`, `scale`; outputs `dx`, `dscale`, `doffset`. */
export const NATIVE_BATCH_NORM_GRAD = 'UnetNativeBatchNormGrad'
/** The kernels {@link registerNativeBatchNorm} adds to wasm. */
export const NATIVE_BATCH_NORM_KERNELS = [NATIVE_BATCH_NORM, NATIVE_BATCH_NORM_GRAD] as const

/** Whether an addon has the batch-norm entry points (a build from before them has only the convolutions). */
export function hasNativeBatchNorm(addon: object): addon is NativeBatchNormAddon {
  const a = addon as Partial<NativeBatchNormAddon>
  return typeof a.batchNormForward === 'function' && typeof a.batchNormBackward === 'function'
}

function kernels(addon: NativeBatchNormAddon): KernelConfig[] {
  const forward = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo[] => {
    const backend = args.backend as WasmBackendLike
    const { x, scale, offset } = args.inputs as Record<'x' | 'scale' | 'offset', TensorInfo>
    const channels = x.shape[3]!
    return withOutputs(backend, [x.shape, [channels], [channels]], ([y, mean, variance]) => {
      // Views after the last allocation: an allocation may grow (and so replace) the heap.
      const v = (t: TensorInfo) => heapF32(backend, t)
      addon.batchNormForward(v(x), v(scale), v(offset), v(y!), v(mean!), v(variance!), x.shape, args.attrs.varianceEpsilon as number)
    })
  }
  const backward = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo[] => {
    const backend = args.backend as WasmBackendLike
    const { dy, x, mean, variance, scale } = args.inputs as Record<'dy' | 'x' | 'mean' | 'variance' | 'scale', TensorInfo>
    const channels = x.shape[3]!
    return withOutputs(backend, [x.shape, [channels], [channels]], ([dx, dscale, doffset]) => {
      const v = (t: TensorInfo) => heapF32(backend, t)
      addon.batchNormBackward(v(x), v(dy), v(mean), v(variance), v(scale), v(dx!), v(dscale!), v(doffset!), x.shape, args.attrs.varianceEpsilon as number)
    })
  }
  return [
    { kernelName: NATIVE_BATCH_NORM, backendName: 'wasm', kernelFunc: forward as never },
    { kernelName: NATIVE_BATCH_NORM_GRAD, backendName: 'wasm', kernelFunc: backward as never },
  ]
}

/**
 * Registers the training-mode batch norm of `@unet/runtime-native` on wasm ({@link NATIVE_BATCH_NORM} and its
 * gradient) and routes tfjs-layers' `BatchNormalization` layer to it while training. Called by
 * `registerNativeConvKernels` when the addon has the entry points.
 *
 * @param addon - the addon, as `loadNativeConv()` of `@unet/runtime-native` returns it
 * @returns the names of the kernels registered
 */
export function registerNativeBatchNorm(addon: NativeBatchNormAddon): string[] {
  unregisterNativeBatchNorm()
  for (const config of kernels(addon)) registerKernel(config)
  useTrainingBatchNorm(NATIVE_BATCH_NORM, NATIVE_BATCH_NORM_GRAD)
  return [...NATIVE_BATCH_NORM_KERNELS]
}

/** Removes {@link registerNativeBatchNorm}'s kernels; the layer then trains through the wasm training batch norm again. */
export function unregisterNativeBatchNorm(): void {
  for (const name of NATIVE_BATCH_NORM_KERNELS) {
    if (getKernel(name, 'wasm') !== undefined) unregisterKernel(name, 'wasm')
  }
}
