import {
  Mean,
  Sum,
  engine,
  util,
  type KernelConfig,
  type NamedAttrMap,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { overrideWasmGradient } from './gradient-override'
import { simdLoops, simdRows, withScratch } from './simd'
import { heapF32, offsetOf, type WasmBackendLike } from './wasm-backend'

/** Name of the kernel that spreads one value per channel over a whole channels-last tensor. */
export const BROADCAST_CHANNELS = 'UnetBroadcastChannels'

/**
 * out[..., c] = dy[c] · scale for every position: the gradient of a sum or mean over every axis but the
 * channels, in one pass. tfjs-core's generic gradient builds a tensor of ones, multiplies and (for the mean)
 * divides: three passes over the full size, twice per batch norm in training.
 */
export function makeBroadcastChannels(): KernelConfig {
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo => {
    const backend = args.backend as WasmBackendLike
    const dy = args.inputs.dy as TensorInfo
    const shape = args.attrs.shape as number[]
    const scale = args.attrs.scale as number
    const out = backend.makeOutput(shape, 'float32')
    const k = Float32Array.from(heapF32(backend, dy), (v) => v * scale)
    const channels = k.length
    const rows = shape.reduce((a, b) => a * b, 1) / channels
    const loops = channels % 4 === 0 ? simdLoops(backend) : null
    if (loops !== null) {
      withScratch(backend, channels, (scratch) => {
        new Float32Array(backend.wasm.HEAPU8.buffer, scratch, channels).set(k)
        const outOffset = offsetOf(backend, out)
        simdRows(backend, loops, 'fillRows', [outOffset, scratch, rows, channels / 4], 2, [[0, channels * 4]])
      })
      return out
    }
    const dst = heapF32(backend, out)
    for (let i = 0; i < dst.length; i += channels) dst.set(k, i)
    return out
  }
  return { kernelName: BROADCAST_CHANNELS, backendName: 'wasm', kernelFunc: kernelFunc as never }
}

function leadingAxes(x: Tensor, axis: unknown): boolean {
  const axes = util.parseAxisParam(axis as number | number[], x.shape).sort((a, b) => a - b)
  return x.rank >= 2 && axes.length === x.rank - 1 && axes.every((a, i) => a === i)
}

function override(kernelName: string, mean: boolean): void {
  overrideWasmGradient(
    kernelName,
    (_dy, x, attrs) => leadingAxes(x, attrs.axis),
    (dy, x) => {
      const channels = x.shape[x.rank - 1] as number
      const scale = mean ? channels / x.size : 1
      return engine().runKernel(BROADCAST_CHANNELS, { dy }, { shape: x.shape, scale }) as Tensor
    },
  )
}

/**
 * Replaces the registered gradients of `Mean` and `Sum` with a one-pass broadcast on the wasm backend when
 * they reduce every axis but the channels; everything else goes to tfjs-core's own gradient.
 */
export function overrideReductionGradients(): void {
  override(Mean, true)
  override(Sum, false)
}
