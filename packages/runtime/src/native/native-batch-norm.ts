import { getKernel, registerKernel, unregisterKernel, type KernelConfig, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core'

import { useTrainingBatchNorm } from '../kernels/batch-norm-train'
import { heapF32, withOutputs, type WasmBackendLike } from '../kernels/wasm-backend'

/** What the batch-norm kernels need from `@unet/runtime-native`'s addon (absent from addons built before it). */
export interface NativeBatchNormAddon {
  batchNormForward(x: Float32Array, scale: Float32Array, shift: Float32Array, y: Float32Array, mean: Float32Array, variance: Float32Array, shape: readonly number[], epsilon: number): void
  batchNormBackward(x: Float32Array, dy: Float32Array, mean: Float32Array, variance: Float32Array, scale: Float32Array, dx: Float32Array, dscale: Float32Array, dshift: Float32Array, shape: readonly number[], epsilon: number): void
}

/** Batch norm with a ReLU in the same pass (addons from before it lack it): the workspace the ReLU's mask lives in. */
export interface NativeBatchNormReluAddon extends NativeBatchNormAddon {
  batchNormForward(x: Float32Array, scale: Float32Array, shift: Float32Array, y: Float32Array, mean: Float32Array, variance: Float32Array, shape: readonly number[], epsilon: number, workspace?: Float32Array | null): void
  batchNormBackward(x: Float32Array, dy: Float32Array, mean: Float32Array, variance: Float32Array, scale: Float32Array, dx: Float32Array, dscale: Float32Array, dshift: Float32Array, shape: readonly number[], epsilon: number, workspace?: Float32Array | null): void
  batchNormReluWorkspace(shape: readonly number[], epsilon: number): number
}

/** Training-mode batch norm: inputs `x`, `scale`, `offset`; outputs `y`, the batch's `mean` and (biased) `variance`. */
export const NATIVE_BATCH_NORM = 'UnetNativeBatchNorm'
/** Its gradient: inputs `dy`, `x`, `mean`, `variance`, `scale`; outputs `dx`, `dscale`, `doffset`. */
export const NATIVE_BATCH_NORM_GRAD = 'UnetNativeBatchNormGrad'
/** Training-mode batch norm and a ReLU in one pass: outputs `y` (ReLU'd), `mean`, `variance` and `workspace`. */
export const NATIVE_BATCH_NORM_RELU = 'UnetNativeBatchNormRelu'
/** Its gradient: inputs `dy`, `x`, `mean`, `variance`, `scale`, `workspace`; outputs `dx`, `dscale`, `doffset`. */
export const NATIVE_BATCH_NORM_RELU_GRAD = 'UnetNativeBatchNormReluGrad'
/** The kernels {@link registerNativeBatchNorm} may add to wasm. */
export const NATIVE_BATCH_NORM_KERNELS = [NATIVE_BATCH_NORM, NATIVE_BATCH_NORM_GRAD, NATIVE_BATCH_NORM_RELU, NATIVE_BATCH_NORM_RELU_GRAD] as const

/** Whether an addon has the batch-norm entry points (a build from before them has only the convolutions). */
export function hasNativeBatchNorm(addon: object): addon is NativeBatchNormAddon {
  const a = addon as Partial<NativeBatchNormAddon>
  return typeof a.batchNormForward === 'function' && typeof a.batchNormBackward === 'function'
}

function hasNativeBatchNormRelu(addon: NativeBatchNormAddon): addon is NativeBatchNormReluAddon {
  return typeof (addon as Partial<NativeBatchNormReluAddon>).batchNormReluWorkspace === 'function'
}

function kernels(addon: NativeBatchNormAddon): KernelConfig[] {
  const relu = hasNativeBatchNormRelu(addon) ? addon : null
  const forward = (fused: boolean) => (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo[] => {
    const backend = args.backend as WasmBackendLike
    const { x, scale, offset } = args.inputs as Record<'x' | 'scale' | 'offset', TensorInfo>
    const channels = x.shape[3]!
    const epsilon = args.attrs.varianceEpsilon as number
    const shapes = [x.shape, [channels], [channels]]
    if (fused) shapes.push([relu!.batchNormReluWorkspace(x.shape, epsilon)])
    return withOutputs(backend, shapes, ([y, mean, variance, workspace]) => {
      // Views after the last allocation: an allocation may grow (and so replace) the heap.
      const v = (t: TensorInfo) => heapF32(backend, t)
      if (fused) relu!.batchNormForward(v(x), v(scale), v(offset), v(y!), v(mean!), v(variance!), x.shape, epsilon, v(workspace!))
      else addon.batchNormForward(v(x), v(scale), v(offset), v(y!), v(mean!), v(variance!), x.shape, epsilon)
    })
  }
  const backward = (fused: boolean) => (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo[] => {
    const backend = args.backend as WasmBackendLike
    const { dy, x, mean, variance, scale, workspace } = args.inputs as Record<'dy' | 'x' | 'mean' | 'variance' | 'scale' | 'workspace', TensorInfo>
    const channels = x.shape[3]!
    const epsilon = args.attrs.varianceEpsilon as number
    return withOutputs(backend, [x.shape, [channels], [channels]], ([dx, dscale, doffset]) => {
      const v = (t: TensorInfo) => heapF32(backend, t)
      if (fused) relu!.batchNormBackward(v(x), v(dy), v(mean), v(variance), v(scale), v(dx!), v(dscale!), v(doffset!), x.shape, epsilon, v(workspace))
      else addon.batchNormBackward(v(x), v(dy), v(mean), v(variance), v(scale), v(dx!), v(dscale!), v(doffset!), x.shape, epsilon)
    })
  }
  const configs: KernelConfig[] = [
    { kernelName: NATIVE_BATCH_NORM, backendName: 'wasm', kernelFunc: forward(false) as never },
    { kernelName: NATIVE_BATCH_NORM_GRAD, backendName: 'wasm', kernelFunc: backward(false) as never },
  ]
  if (relu !== null) {
    configs.push(
      { kernelName: NATIVE_BATCH_NORM_RELU, backendName: 'wasm', kernelFunc: forward(true) as never },
      { kernelName: NATIVE_BATCH_NORM_RELU_GRAD, backendName: 'wasm', kernelFunc: backward(true) as never },
    )
  }
  return configs
}

/**
 * Registers the training-mode batch norm of `@unet/runtime-native` on wasm ({@link NATIVE_BATCH_NORM} and its
 * gradient) and routes tfjs-layers' `BatchNormalization` layer to it while training; with an addon that has
 * `batchNormReluWorkspace`, also {@link NATIVE_BATCH_NORM_RELU} and its gradient, which a batch-norm layer that
 * only a ReLU layer reads runs instead (the ReLU in the same pass). Called by `registerNativeConvKernels` when
 * the addon has the entry points.
 *
 * @param addon - the addon, as `loadNativeConv()` of `@unet/runtime-native` returns it
 * @returns the names of the kernels registered
 */
export function registerNativeBatchNorm(addon: NativeBatchNormAddon): string[] {
  unregisterNativeBatchNorm()
  const configs = kernels(addon)
  for (const config of configs) registerKernel(config)
  useTrainingBatchNorm(NATIVE_BATCH_NORM, NATIVE_BATCH_NORM_GRAD, hasNativeBatchNormRelu(addon) ? { forward: NATIVE_BATCH_NORM_RELU, grad: NATIVE_BATCH_NORM_RELU_GRAD } : undefined)
  return configs.map((c) => c.kernelName)
}

/** Removes {@link registerNativeBatchNorm}'s kernels; the layer then trains through the wasm training batch norm again. */
export function unregisterNativeBatchNorm(): void {
  for (const name of NATIVE_BATCH_NORM_KERNELS) {
    if (getKernel(name, 'wasm') !== undefined) unregisterKernel(name, 'wasm')
  }
}
