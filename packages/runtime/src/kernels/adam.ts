import {
  AdamOptimizer,
  add,
  div,
  engine,
  getBackend,
  mul,
  sqrt,
  square,
  tidy,
  zerosLike,
  type KernelConfig,
  type NamedAttrMap,
  type NamedTensorMap,
  type Tensor,
  type TensorInfo,
  type Variable,
} from '@tensorflow/tfjs-core'

import { simdLoops, simdRows, withScratch } from './simd'
import { heapF32, offsetOf, type WasmBackendLike } from './wasm-backend'

/** Name of the kernel that runs one Adam update of one variable in one pass. */
export const ADAM_UPDATE = 'UnetAdamUpdate'

/**
 * One Adam step of one float32 variable in one pass over its values: new moments m′ = β₁m + (1 − β₁)g and
 * v′ = β₂v + (1 − β₂)g², and x′ = x − lr · (m′/(1 − β₁ᵗ)) / (√(v′/(1 − β₂ᵗ)) + ε), exactly tfjs's
 * `AdamOptimizer` formula. tfjs-core runs it as 14 element-wise kernels per variable, each a pass over the
 * data and, on the threaded wasm build, a wait for the thread pool; this is one plain loop on the calling
 * thread (a U-Net has ~2 M weights: a few milliseconds).
 *
 * Inputs `x`, `g`, `m`, `v` (same shape); attrs `learningRate`, `beta1`, `beta2`, `epsilon`,
 * `oneMinusAccBeta1`, `oneMinusAccBeta2`. Outputs `[x′, m′, v′]`.
 */
export function makeAdamUpdate(): KernelConfig {
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }): TensorInfo[] => {
    const backend = args.backend as WasmBackendLike
    const { x, g, m, v } = args.inputs as Record<'x' | 'g' | 'm' | 'v', TensorInfo>
    const a = args.attrs as Record<string, number>
    const outs = [x, m, v].map((t) => backend.makeOutput([...t.shape], 'float32'))
    const size = x.shape.reduce((p, q) => p * q, 1)
    const loops = simdLoops(backend)
    const n4 = loops === null ? 0 : size >> 2
    if (n4 > 0) {
      // In float32 SIMD, split over the helper threads where there are any; the JS loop takes the tail.
      withScratch(backend, 8, (k) => {
        new Float32Array(backend.wasm.HEAPU8.buffer, k, 8).set([a.beta1!, 1 - a.beta1!, a.beta2!, 1 - a.beta2!, a.oneMinusAccBeta1!, a.oneMinusAccBeta2!, a.epsilon!, a.learningRate!])
        const at = (t: TensorInfo) => offsetOf(backend, t)
        const args = [...[x, g, m, v, ...outs].map(at), n4, k]
        simdRows(backend, loops!, 'adamUpdate', args, 7, [0, 1, 2, 3, 4, 5, 6].map((i) => [i, 16] as [number, number]))
      })
    }
    // Views after the last allocation (an allocation may grow the heap).
    const [X, G, M, V] = [x, g, m, v].map((t) => heapF32(backend, t)) as [Float32Array, Float32Array, Float32Array, Float32Array]
    const [X2, M2, V2] = outs.map((t) => heapF32(backend, t)) as [Float32Array, Float32Array, Float32Array]
    const b1 = a.beta1!
    const b2 = a.beta2!
    const c1 = a.oneMinusAccBeta1!
    const c2 = a.oneMinusAccBeta2!
    const lr = a.learningRate!
    const eps = a.epsilon!
    for (let i = 4 * n4; i < X.length; i++) {
      const gi = G[i]!
      const mi = Math.fround(b1 * M[i]! + (1 - b1) * gi)
      const vi = Math.fround(b2 * V[i]! + (1 - b2) * gi * gi)
      M2[i] = mi
      V2[i] = vi
      X2[i] = X[i]! - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps)
    }
    return outs
  }
  return { kernelName: ADAM_UPDATE, backendName: 'wasm', kernelFunc: kernelFunc as never }
}

/** The parts of tfjs's AdamOptimizer the fused update reads and writes (protected there). */
interface AdamInternals {
  learningRate: number
  beta1: number
  beta2: number
  epsilon: number
  accBeta1: Variable
  accBeta2: Variable
  accumulatedFirstMoment: Array<{ originalName: string; variable: Variable } | undefined>
  accumulatedSecondMoment: Array<{ originalName: string; variable: Variable } | undefined>
  incrementIterations(): void
}

type ApplyGradients = (this: AdamOptimizer, grads: NamedTensorMap | Array<{ name: string; tensor: Tensor }>) => void

let stockApply: ApplyGradients | null = null

/**
 * Makes tfjs's `AdamOptimizer` (what `model.compile({ optimizer: 'adam' })` and `tf.train.adam()` create)
 * update each float32 variable with one {@link ADAM_UPDATE} kernel when the active backend is wasm, instead
 * of tfjs-core's 14 element-wise ops. Same state (moments named `<var>/m`, `<var>/v`, `accBeta1/2`), so
 * saved optimizer weights stay compatible; every other backend and every other dtype runs tfjs-core's code.
 * Global (tfjs has one AdamOptimizer class), like the gradient overrides; patched once.
 */
export function overrideAdam(): void {
  if (stockApply !== null) return
  const proto = AdamOptimizer.prototype as unknown as { applyGradients: ApplyGradients }
  const stock = proto.applyGradients
  stockApply = stock
  proto.applyGradients = function (this: AdamOptimizer, variableGradients: NamedTensorMap | Array<{ name: string; tensor: Tensor }>) {
    if (getBackend() !== 'wasm') return stock.call(this, variableGradients)
    const self = this as unknown as AdamInternals
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients)
    tidy(() => {
      const oneMinusAccBeta1 = 1 - (self.accBeta1.dataSync()[0] as number)
      const oneMinusAccBeta2 = 1 - (self.accBeta2.dataSync()[0] as number)
      names.forEach((name, i) => {
        const value = engine().registeredVariables[name] as Variable
        self.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tidy(() => zerosLike(value).variable(false)) }
        self.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tidy(() => zerosLike(value).variable(false)) }
        const gradient = Array.isArray(variableGradients) ? variableGradients[i]?.tensor : variableGradients[name]
        if (gradient == null) return
        const m = self.accumulatedFirstMoment[i].variable
        const v = self.accumulatedSecondMoment[i].variable
        if (value.dtype === 'float32' && gradient.dtype === 'float32' && gradient.size === value.size) {
          const [x2, m2, v2] = engine().runKernel(ADAM_UPDATE, { x: value, g: gradient, m, v }, {
            learningRate: self.learningRate,
            beta1: self.beta1,
            beta2: self.beta2,
            epsilon: self.epsilon,
            oneMinusAccBeta1,
            oneMinusAccBeta2,
          } as never) as unknown as [Tensor, Tensor, Tensor]
          m.assign(m2)
          v.assign(v2)
          value.assign(x2)
          return
        }
        // tfjs-core's own formula, for anything else.
        const newM = add(mul(m, self.beta1), mul(gradient, 1 - self.beta1))
        const newV = add(mul(v, self.beta2), mul(square(gradient), 1 - self.beta2))
        m.assign(newM)
        v.assign(newV)
        const step = mul(div(div(newM, oneMinusAccBeta1), add(sqrt(div(newV, oneMinusAccBeta2)), self.epsilon)), -self.learningRate)
        value.assign(add(step, value))
      })
      self.accBeta1.assign(mul(self.accBeta1, self.beta1))
      self.accBeta2.assign(mul(self.accBeta2, self.beta2))
    })
    self.incrementIterations()
  }
}

/** Puts tfjs-core's own `AdamOptimizer.applyGradients` back (for tests that compare). */
export function restoreAdam(): void {
  if (stockApply === null) return
  ;(AdamOptimizer.prototype as unknown as { applyGradients: ApplyGradients }).applyGradients = stockApply
  stockApply = null
}
