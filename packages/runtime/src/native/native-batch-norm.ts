import {
  add,
  div,
  engine,
  getBackend,
  getKernel,
  mul,
  registerGradient,
  registerKernel,
  serialization,
  sub,
  tidy,
  unregisterKernel,
  type KernelConfig,
  type NamedAttrMap,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { disposeInfo, heapF32, type WasmBackendLike } from '../kernels/wasm-backend'

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
    const outs = [backend.makeOutput(x.shape, 'float32'), backend.makeOutput([channels], 'float32'), backend.makeOutput([channels], 'float32')]
    const [y, mean, variance] = outs as [TensorInfo, TensorInfo, TensorInfo]
    try {
      // Views after the last allocation: an allocation may grow (and so replace) the heap.
      const v = (t: TensorInfo) => heapF32(backend, t)
      addon.batchNormForward(v(x), v(scale), v(offset), v(y), v(mean), v(variance), x.shape, args.attrs.varianceEpsilon as number)
    } catch (error) {
      for (const o of outs) disposeInfo(backend, o)
      throw error
    }
    return outs
  }
  const backward = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo[] => {
    const backend = args.backend as WasmBackendLike
    const { dy, x, mean, variance, scale } = args.inputs as Record<'dy' | 'x' | 'mean' | 'variance' | 'scale', TensorInfo>
    const channels = x.shape[3]!
    const outs = [backend.makeOutput(x.shape, 'float32'), backend.makeOutput([channels], 'float32'), backend.makeOutput([channels], 'float32')]
    const [dx, dscale, doffset] = outs as [TensorInfo, TensorInfo, TensorInfo]
    try {
      const v = (t: TensorInfo) => heapF32(backend, t)
      addon.batchNormBackward(v(x), v(dy), v(mean), v(variance), v(scale), v(dx), v(dscale), v(doffset), x.shape, args.attrs.varianceEpsilon as number)
    } catch (error) {
      for (const o of outs) disposeInfo(backend, o)
      throw error
    }
    return outs
  }
  return [
    { kernelName: NATIVE_BATCH_NORM, backendName: 'wasm', kernelFunc: forward as never },
    { kernelName: NATIVE_BATCH_NORM_GRAD, backendName: 'wasm', kernelFunc: backward as never },
  ]
}

let gradientRegistered = false

/** The gradient of {@link NATIVE_BATCH_NORM}: one oneDNN backward pass for x, scale and offset. */
function registerGradientOnce(): void {
  if (gradientRegistered) return
  gradientRegistered = true
  registerGradient({
    kernelName: NATIVE_BATCH_NORM,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dMean, dVariance] = dys as Tensor[]
      const [x, scale, mean, variance] = saved as [Tensor, Tensor, Tensor, Tensor]
      const [dx, dScale, dOffset] = engine().runKernel(NATIVE_BATCH_NORM_GRAD, { dy: dy!, x, mean, variance, scale }, attrs as never) as unknown as [Tensor, Tensor, Tensor]
      // The batch layer's mean and variance only feed the moving averages, outside the gradient, so tfjs
      // hands zeros here; a graph that differentiates through them gets their share as well.
      const statistics = (t: Tensor | undefined) => t !== undefined && (t.dataSync() as Float32Array).some((d) => d !== 0)
      const total =
        statistics(dMean) || statistics(dVariance)
          ? () => {
              const m = x.size / x.shape[3]!
              return add(dx, add(div(dMean!, m), mul(sub(x, mean), mul(dVariance!, 2 / m))))
            }
          : () => dx
      return { x: total, scale: () => dScale, offset: () => dOffset }
    },
  })
}

/** The parts of tfjs-layers' `BatchNormalization` layer the training path reads. */
interface BatchNormLayer {
  axis: number
  epsilon: number
  momentum: number
  gamma?: { read(): Tensor } | null
  beta?: { read(): Tensor } | null
  movingMean: { read(): Tensor; write(value: Tensor): void }
  movingVariance: { read(): Tensor; write(value: Tensor): void }
}
type LayerCall = (this: BatchNormLayer, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>) => Tensor | Tensor[]

let stockCall: LayerCall | null = null

/** The one input of a layer call, as tfjs-layers' `getExactlyOneTensor` takes it; null for anything else. */
function oneTensor(inputs: Tensor | Tensor[]): Tensor | null {
  if (!Array.isArray(inputs)) return inputs
  return inputs.length === 1 ? inputs[0]! : null
}

/**
 * Makes tfjs-layers' `BatchNormalization` layer, in training mode on wasm with these kernels registered, run
 * one {@link NATIVE_BATCH_NORM} kernel (whose gradient is one oneDNN backward pass) instead of tfjs's
 * `moments` + `batchNormalization` (Mean, Sub, Square, Mean, FusedBatchNorm forward; about ten full-size
 * kernels and adds backward). The moving averages are updated with the same ops as the layer's own code.
 * Every other case (inference, another backend or axis, no scale or no center, not 4-D float32) runs the
 * layer's own `call`. Global (tfjs-layers has one class); patched once.
 */
function patchBatchNormalizationLayer(): void {
  if (stockCall !== null) return
  const entry = serialization.SerializationMap.getMap().classNameMap.BatchNormalization as [{ prototype: { call: LayerCall } }, unknown] | undefined
  if (entry === undefined) return // tfjs-layers is not loaded: nothing to patch
  const proto = entry[0].prototype
  const stock = proto.call
  stockCall = stock
  proto.call = function (this: BatchNormLayer, inputs, kwargs) {
    const x = oneTensor(inputs)
    const gamma = this.gamma ?? null
    const beta = this.beta ?? null
    const training = kwargs?.training != null && kwargs.training !== false
    if (
      !training ||
      x === null ||
      gamma === null ||
      beta === null ||
      x.rank !== 4 ||
      x.dtype !== 'float32' ||
      x.shape.some((d) => d < 1) ||
      (this.axis !== -1 && this.axis !== 3) ||
      getBackend() !== 'wasm' ||
      getKernel(NATIVE_BATCH_NORM, 'wasm') === undefined
    ) {
      return stock.call(this, inputs, kwargs)
    }
    return tidy(() => {
      const [y, mean, variance] = engine().runKernel(
        NATIVE_BATCH_NORM,
        { x, scale: gamma.read(), offset: beta.read() },
        { varianceEpsilon: this.epsilon } as never,
      ) as unknown as [Tensor, Tensor, Tensor]
      // As the layer does it: variable ← variable − (variable − value) · (1 − momentum).
      for (const [variable, value] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        tidy(() => {
          const original = variable.read()
          variable.write(sub(original, mul(sub(original, value), 1 - this.momentum)))
        })
      }
      return y
    })
  }
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
  registerGradientOnce()
  patchBatchNormalizationLayer()
  return [...NATIVE_BATCH_NORM_KERNELS]
}

/** Removes {@link registerNativeBatchNorm}'s kernels; the layer then runs its own code again. */
export function unregisterNativeBatchNorm(): void {
  for (const name of NATIVE_BATCH_NORM_KERNELS) {
    if (getKernel(name, 'wasm') !== undefined) unregisterKernel(name, 'wasm')
  }
}
