import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core'

import { heapF32, type WasmBackendLike } from '../kernels/wasm-backend'
import { KernelSwap } from './kernel-swap'

/** What the per-channel kernels need from `@unet/runtime-native`'s addon (absent from addons built before them). */
export interface NativeChannelAddon {
  biasAdd(x: Float32Array, bias: Float32Array, y: Float32Array): void
  channelSums(x: Float32Array, out: Float32Array): void
}

/** Whether an addon has the per-channel entry points. */
export function hasNativeChannelOps(addon: object): addon is NativeChannelAddon {
  const a = addon as Partial<NativeChannelAddon>
  return typeof a.biasAdd === 'function' && typeof a.channelSums === 'function'
}

/** Whether `bias` is one value per channel of `x` (shape `[C]` or `[1, …, 1, C]`), channels last. */
function isChannelBias(x: TensorInfo, bias: TensorInfo): boolean {
  const channels = x.shape[x.shape.length - 1]
  if (x.shape.length < 2 || channels === undefined || bias.shape.length > x.shape.length) return false
  return bias.shape[bias.shape.length - 1] === channels && bias.shape.slice(0, -1).every((d) => d === 1) && x.shape.every((d) => d > 0)
}

/** Whether a Sum reduces every axis of `x` but the last. */
function isChannelSum(x: TensorInfo, axis: unknown): boolean {
  const rank = x.shape.length
  if (rank < 2 || x.shape.some((d) => d < 1)) return false
  const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (typeof a === 'number' && a < 0 ? a + rank : a))
  const sorted = [...new Set(axes)].sort((a, b) => (a as number) - (b as number))
  return sorted.length === rank - 1 && sorted.every((a, i) => a === i)
}

let swap = new KernelSwap()

/**
 * Replaces wasm's `Add` where one side is a per-channel bias of the other (the bias of a transposed
 * convolution, as tfjs-layers adds it) and `Sum` over every axis but the last (that bias's gradient) with
 * the addon's single-pass loops; on the wasm backend these took 4–5× the time of a plain pass. Every other
 * Add and Sum goes to the kernel registered before.
 *
 * @param addon - the addon, as `loadNativeConv()` of `@unet/runtime-native` returns it
 * @returns the names of the kernels replaced
 */
export function registerNativeChannelOps(addon: NativeChannelAddon): string[] {
  unregisterNativeChannelOps()
  for (const name of ['Add', 'Sum']) {
    swap.replace(name, (fallback): KernelFunc => (args) => {
      const backend = args.backend as unknown as WasmBackendLike
      const inputs = args.inputs as Record<string, TensorInfo | undefined>
      if (name === 'Add') {
        const { a, b } = inputs
        if (a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args)
        const [x, bias] = isChannelBias(a, b) ? [a, b] : isChannelBias(b, a) ? [b, a] : [null, null]
        if (x === null || bias === null) return fallback(args)
        const out = backend.makeOutput([...x.shape], 'float32')
        // Views after the last allocation: an allocation may grow (and so replace) the heap.
        addon.biasAdd(heapF32(backend, x), heapF32(backend, bias), heapF32(backend, out))
        return out
      }
      const x = inputs.x
      const attrs = args.attrs ?? {}
      if (x === undefined || x.dtype !== 'float32' || !isChannelSum(x, attrs.axis)) return fallback(args)
      const channels = x.shape[x.shape.length - 1]!
      const out = backend.makeOutput(attrs.keepDims === true ? [...x.shape.map(() => 1).slice(0, -1), channels] : [channels], 'float32')
      addon.channelSums(heapF32(backend, x), heapF32(backend, out))
      return out
    })
  }
  return swap.names
}

/** Puts back the kernels {@link registerNativeChannelOps} replaced. */
export function unregisterNativeChannelOps(): void {
  swap.restore()
  swap = new KernelSwap()
}
