import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core'

import { RELU_GRAD } from '../kernels/elementwise-grads'
import { heapF32, type WasmBackendLike } from '../kernels/wasm-backend'
import { KernelSwap } from './kernel-swap'

/** What the ReLU kernels need from `@unet/runtime-native`'s addon (absent from addons built before them). */
export interface NativeReluAddon {
  relu(x: Float32Array, y: Float32Array): void
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void
}

/** Whether an addon has the ReLU entry points. */
export function hasNativeRelu(addon: object): addon is NativeReluAddon {
  const a = addon as Partial<NativeReluAddon>
  return typeof a.relu === 'function' && typeof a.reluGrad === 'function'
}

let swap = new KernelSwap()

/**
 * Replaces wasm's `Relu` and @unet/runtime's ReLU gradient kernel (`UnetReluGrad`) with the addon's loops:
 * the same definitions (`x <= 0 ? 0 : x`; `x > 0 ? dy : 0`) in one pass on one thread with the CPU's widest
 * vectors, instead of 128-bit wasm SIMD and, on the threaded build, a wait for the thread pool after every
 * ReLU of the network. Non-float32 tensors go to the kernel registered before.
 *
 * @param addon - the addon, as `loadNativeConv()` of `@unet/runtime-native` returns it
 * @returns the names of the kernels replaced (`UnetReluGrad` only where it was registered)
 */
export function registerNativeRelu(addon: NativeReluAddon): string[] {
  unregisterNativeRelu()
  for (const name of ['Relu', RELU_GRAD]) {
    swap.replace(name, (fallback): KernelFunc => (args) => {
      const backend = args.backend as unknown as WasmBackendLike
      const inputs = args.inputs as Record<string, TensorInfo | undefined>
      const x = inputs.x
      const dy = inputs.dy
      if (x === undefined || x.dtype !== 'float32' || (name === RELU_GRAD && (dy === undefined || dy.dtype !== 'float32'))) return fallback(args)
      const out = backend.makeOutput([...x.shape], 'float32')
      // Views after the last allocation: an allocation may grow (and so replace) the heap.
      if (name === 'Relu') addon.relu(heapF32(backend, x), heapF32(backend, out))
      else addon.reluGrad(heapF32(backend, dy!), heapF32(backend, x), heapF32(backend, out))
      return out
    })
  }
  return swap.names
}

/** Puts back the kernels {@link registerNativeRelu} replaced. */
export function unregisterNativeRelu(): void {
  swap.restore()
  swap = new KernelSwap()
}
