import {
  FusedBatchNorm,
  engine,
  getBackend,
  getGradient,
  registerGradient,
  reshape,
  type GradConfig,
  type KernelConfig,
  type NamedAttrMap,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { channelAffine, channelDotSums } from './simd'
import { heapF32, type WasmBackendLike } from './wasm-backend'

/** Name of the kernel that computes every gradient of a batch norm in two passes over the data. */
export const BATCH_NORM_GRAD = 'UnetBatchNormGrad'

/**
 * All five gradients of `FusedBatchNorm` (x, mean, variance, scale, offset) for statistics over the last
 * axis, in two passes over dy and x. tfjs-core's generic gradient tiles 1/σ to the size of x and runs about
 * a dozen full-size ops, which on the wasm backend cost more than the convolutions around them.
 */
export function makeBatchNormGrad(): KernelConfig {
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo[] => {
    const backend = args.backend as WasmBackendLike
    const { dy, x, mean, variance, scale } = args.inputs as Record<string, TensorInfo>
    const epsilon = args.attrs.varianceEpsilon as number
    const channels = (mean as TensorInfo).shape.reduce((a, b) => a * b, 1)
    const dx = backend.makeOutput((x as TensorInfo).shape, 'float32')
    const outs = [0, 1, 2, 3].map(() => backend.makeOutput([channels], 'float32'))
    // Pass 1: Σ dy and Σ dy · (x − mean) per channel.
    const [sumDy, sumDyXc] = channelDotSums(backend, dy as TensorInfo, x as TensorInfo, mean as TensorInfo, channels)

    // Views only now: the SIMD path allocates scratch, and malloc may grow (and detach) the heap.
    const varV = heapF32(backend, variance as TensorInfo)
    const scaleV = scale === undefined ? null : heapF32(backend, scale)
    const [dMean, dVar, dScale, dOffset] = outs.map((o) => heapF32(backend, o)) as [Float32Array, Float32Array, Float32Array, Float32Array]
    const k = new Float32Array(channels)
    for (let c = 0; c < channels; c++) {
      const rstd = 1 / Math.sqrt((varV[c] as number) + epsilon)
      const g = scaleV === null ? 1 : (scaleV[c] as number)
      k[c] = g * rstd
      dMean[c] = -rstd * g * (sumDy[c] as number)
      dVar[c] = -0.5 * rstd * rstd * rstd * g * (sumDyXc[c] as number)
      dScale[c] = rstd * (sumDyXc[c] as number)
      dOffset[c] = sumDy[c] as number
    }

    // Pass 2: dx = dy · scale / σ.
    channelAffine(backend, dy as TensorInfo, dx, k, new Float32Array(channels))
    return [dx, ...outs]
  }
  return { kernelName: BATCH_NORM_GRAD, backendName: 'wasm', kernelFunc: kernelFunc as never }
}

/**
 * Replaces the registered gradient of `FusedBatchNorm` with one that, on the wasm backend and for per-channel
 * statistics, runs {@link makeBatchNormGrad}'s kernel once; everywhere else it defers to tfjs-core's own.
 */
export function overrideBatchNormGradient(): void {
  const stock = getGradient(FusedBatchNorm)
  if (stock === undefined) return
  const config: GradConfig = {
    kernelName: FusedBatchNorm,
    inputsToSave: stock.inputsToSave ?? ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved as [Tensor, Tensor, Tensor, Tensor | undefined]
      const channels = x.shape[x.rank - 1]
      const perChannel = [mean, variance, scale].every((t) => t === undefined || (t.rank === 1 && t.size === channels))
      if (getBackend() !== 'wasm' || Array.isArray(dy) || !perChannel || x.dtype !== 'float32') {
        return stock.gradFunc(dy, saved, attrs)
      }
      // Computed here, not in the thunks: the tape runs each thunk in its own tidy, which would dispose
      // the outputs a later thunk needs. The tape's enclosing tidy frees the ones nobody asked for.
      const [dx, dMean, dVariance, dScale, dOffset] = engine().runKernel(
        BATCH_NORM_GRAD,
        { dy, x, mean, variance, ...(scale ? { scale } : {}) },
        attrs as never,
      ) as unknown as [Tensor, Tensor, Tensor, Tensor, Tensor]
      return {
        x: () => dx,
        mean: () => reshape(dMean, mean.shape),
        variance: () => reshape(dVariance, variance.shape),
        scale: () => reshape(dScale, (scale ?? mean).shape),
        offset: () => reshape(dOffset, mean.shape),
      }
    },
  }
  registerGradient(config)
}
