import {
  Relu,
  engine,
  getBackend,
  getGradient,
  registerGradient,
  type GradConfig,
  type KernelConfig,
  type NamedAttrMap,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { simdLoops } from './simd'
import { heapF32, type WasmBackendLike } from './wasm-backend'

/** Name of the kernel that computes a ReLU's input gradient in one pass. */
export const RELU_GRAD = 'UnetReluGrad'

/**
 * dx = dy where x > 0, else 0, in one SIMD pass (plain JS for the last few floats, and where SIMD is
 * missing). tfjs-core's gradient runs `Step`, `Cast` and `Multiply`: three passes over the full size and,
 * on the threaded build, three waits for the thread pool, after every ReLU of the network.
 */
export function makeReluGrad(): KernelConfig {
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo => {
    const backend = args.backend as WasmBackendLike
    const { dy, x } = args.inputs as Record<'dy' | 'x', TensorInfo>
    const out = backend.makeOutput([...x.shape], 'float32')
    const n = x.shape.reduce((a, b) => a * b, 1)
    const loops = simdLoops(backend)
    const n4 = loops === null ? 0 : n >> 2
    if (n4 > 0) {
      const at = (t: TensorInfo) => (backend.dataIdMap.get(t.dataId) as { memoryOffset: number }).memoryOffset
      loops!.reluMask(at(dy), at(x), at(out), n4)
    }
    const D = heapF32(backend, dy)
    const X = heapF32(backend, x)
    const O = heapF32(backend, out)
    for (let i = 4 * n4; i < n; i++) O[i] = X[i]! > 0 ? D[i]! : 0
    return out
  }
  return { kernelName: RELU_GRAD, backendName: 'wasm', kernelFunc: kernelFunc as never }
}

/**
 * Replaces the registered gradient of `Relu` with {@link RELU_GRAD} on the wasm backend for float32; every
 * other backend and dtype goes to tfjs-core's own gradient.
 */
export function overrideReluGradient(): void {
  const stock = getGradient(Relu)
  if (stock === undefined) return
  const config: GradConfig = {
    kernelName: Relu,
    inputsToSave: stock.inputsToSave ?? ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor]
      if (getBackend() !== 'wasm' || Array.isArray(dy) || x.dtype !== 'float32' || dy.dtype !== 'float32') {
        return stock.gradFunc(dy, saved, attrs)
      }
      return { x: () => engine().runKernel(RELU_GRAD, { dy, x }) as Tensor }
    },
  }
  registerGradient(config)
}
