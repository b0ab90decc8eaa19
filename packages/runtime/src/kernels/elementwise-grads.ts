import {
  Relu,
  Square,
  engine,
  type KernelConfig,
  type NamedAttrMap,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { overrideWasmGradient } from './gradient-override'
import { simdLoops, simdRows } from './simd'
import { heapF32, offsetOf, type WasmBackendLike } from './wasm-backend'

/** Name of the kernel that computes a ReLU's input gradient in one pass. */
export const RELU_GRAD = 'UnetReluGrad'
/** Name of the kernel that computes a square's input gradient in one pass. */
export const SQUARE_GRAD = 'UnetSquareGrad'

/**
 * A kernel `out = f(dy, x)` over same-shape float32 tensors: one SIMD pass over groups of 4 floats, plain JS
 * for the last few floats and where SIMD is missing.
 */
function elementwiseGrad(
  kernelName: string,
  simd: 'reluMask' | 'squareGrad',
  js: (dy: number, x: number) => number,
): KernelConfig {
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo => {
    const backend = args.backend as WasmBackendLike
    const { dy, x } = args.inputs as Record<'dy' | 'x', TensorInfo>
    const out = backend.makeOutput([...x.shape], 'float32')
    const n = x.shape.reduce((a, b) => a * b, 1)
    const loops = simdLoops(backend)
    const n4 = loops === null ? 0 : n >> 2
    if (n4 > 0) {
      const at = (t: TensorInfo) => offsetOf(backend, t)
      // Split over the helper threads where there are any (threaded build).
      simdRows(backend, loops!, simd, [at(dy), at(x), at(out), n4], 3, [[0, 16], [1, 16], [2, 16]])
    }
    const D = heapF32(backend, dy)
    const X = heapF32(backend, x)
    const O = heapF32(backend, out)
    for (let i = 4 * n4; i < n; i++) O[i] = js(D[i]!, X[i]!)
    return out
  }
  return { kernelName, backendName: 'wasm', kernelFunc: kernelFunc as never }
}

/**
 * dx = dy where x > 0, else 0. tfjs-core's gradient runs `Step`, `Cast` and `Multiply`: three passes over the
 * full size and, on the threaded build, three waits for the thread pool, after every ReLU of the network.
 */
export function makeReluGrad(): KernelConfig {
  return elementwiseGrad(RELU_GRAD, 'reluMask', (dy, x) => (x > 0 ? dy : 0))
}

/**
 * dx = dy · 2x. tfjs-core's gradient runs `Cast` and two `Multiply`; every batch norm in training squares
 * the full-size deviations (`tf.moments`), so this runs once per batch norm per step.
 */
export function makeSquareGrad(): KernelConfig {
  return elementwiseGrad(SQUARE_GRAD, 'squareGrad', (dy, x) => dy * (x + x))
}

function override(kernelName: string, gradKernel: string): void {
  overrideWasmGradient(kernelName, (dy) => dy.dtype === 'float32', (dy, x) => engine().runKernel(gradKernel, { dy, x }) as Tensor)
}

/**
 * Replaces the registered gradients of `Relu` and `Square` with {@link RELU_GRAD} and {@link SQUARE_GRAD} on
 * the wasm backend for float32; every other backend and dtype goes to tfjs-core's own gradient.
 */
export function overrideElementwiseGradients(): void {
  override(Relu, RELU_GRAD)
  override(Square, SQUARE_GRAD)
}
