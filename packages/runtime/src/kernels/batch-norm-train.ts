import {
  add,
  div,
  engine,
  getBackend,
  getKernel,
  mul,
  registerGradient,
  sub,
  tidy,
  util,
  type KernelConfig,
  type NamedAttrMap,
  type NamedTensorMap,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { markReluApplied, mayFuseRelu, patchLayersForReluFusion } from './batch-norm-relu'
import { isTrainingCall, layerPrototype, oneTensor } from './layer-patch'
import { blockedChannelSums, channelAffine, channelDotSums, simdLoops } from './simd'
import { heapF32, offsetOf, withOutputs, type WasmBackendLike } from './wasm-backend'

/** Training-mode batch norm on wasm: inputs `x`, `scale`, `offset`; outputs `y`, the batch's `mean` and (biased) `variance`. */
export const TRAINING_BATCH_NORM = 'UnetBatchNormTrain'
/** Its gradient: inputs `dy`, `x`, `mean`, `variance`, `scale`; outputs `dx`, `dscale`, `doffset`. */
export const TRAINING_BATCH_NORM_GRAD = 'UnetBatchNormTrainGrad'
/** The same with a ReLU after the normalization, in the same pass: outputs `y` (ReLU'd), `mean`, `variance`. */
export const TRAINING_BATCH_NORM_RELU = 'UnetBatchNormTrainRelu'
/** Its gradient: inputs `dy`, `x`, `mean`, `variance`, `scale` and `y` (the forward output, the ReLU's mask). */
export const TRAINING_BATCH_NORM_RELU_GRAD = 'UnetBatchNormTrainReluGrad'

type Args = { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap }

/** Per-channel Σ (x − shift) and Σ (x − shift)² over rows of `channels`, in float64 (x's first row is `shift`). */
function moments(backend: WasmBackendLike, x: TensorInfo, shift: Float32Array, rows: number, channels: number): [Float64Array, Float64Array] {
  const loops = channels % 4 === 0 ? simdLoops(backend) : null
  // The first row of x is the shift, so its offset serves as the shift's without a copy on the heap.
  if (loops !== null) return blockedChannelSums(loops, backend, rows, channels, offsetOf(backend, x), { shift: offsetOf(backend, x) })
  const s1 = new Float64Array(channels)
  const s2 = new Float64Array(channels)
  const xv = heapF32(backend, x)
  for (let i = 0; i < xv.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const d = (xv[i + c] as number) - (shift[c] as number)
      s1[c] = (s1[c] as number) + d
      s2[c] = (s2[c] as number) + d * d
    }
  }
  return [s1, s2]
}

/**
 * The wasm training batch norm: the batch's per-channel mean and biased variance in one pass (float64 sums of
 * float32 block partials of x − s and (x − s)², s the first row of x, so the terms are of the order of the
 * spread), then y = x · k + b with k = scale / √(variance + ε), b = offset − mean · k. Two SIMD passes over x
 * on the helper threads, against tfjs's `moments` + `batchNormalization` (Mean, Sub, Square, Mean,
 * FusedBatchNorm). With `relu`, y = relu(x · k + b) in the second pass ({@link TRAINING_BATCH_NORM_RELU}).
 */
export function makeTrainingBatchNorm(relu = false): KernelConfig {
  const kernelFunc = (args: Args): TensorInfo[] => {
    const backend = args.backend as WasmBackendLike
    const { x, scale, offset } = args.inputs as Record<'x' | 'scale' | 'offset', TensorInfo>
    const channels = x.shape[x.shape.length - 1]!
    const rows = util.sizeFromShape(x.shape) / channels
    return withOutputs(backend, [x.shape, [channels], [channels]], (outs) => {
      const [y, mean, variance] = outs as [TensorInfo, TensorInfo, TensorInfo]
      // One pass for Σ (x − s) and Σ (x − s)², with s the first row of x: a sample, so x − s is of the order of
      // the spread, and the float32 partials keep their digits however far the mean is from zero. Then
      // m = s + Σ (x − s) / N and the variance Σ (x − s)² / N − (m − s)², in float64.
      const shift = Float32Array.from(heapF32(backend, x).subarray(0, channels))
      const [d1, d2] = moments(backend, x, shift, rows, channels)
      const m = new Float32Array(channels)
      const v = new Float32Array(channels)
      for (let c = 0; c < channels; c++) {
        const offsetMean = (d1[c] as number) / rows
        m[c] = (shift[c] as number) + offsetMean
        v[c] = Math.max(0, (d2[c] as number) / rows - offsetMean * offsetMean)
      }
      heapF32(backend, mean).set(m)
      heapF32(backend, variance).set(v)
      const g = heapF32(backend, scale)
      const o = heapF32(backend, offset)
      const k = new Float32Array(channels)
      const b = new Float32Array(channels)
      const epsilon = args.attrs.varianceEpsilon as number
      for (let c = 0; c < channels; c++) {
        k[c] = (g[c] as number) / Math.sqrt((v[c] as number) + epsilon)
        b[c] = (o[c] as number) - (m[c] as number) * (k[c] as number)
      }
      channelAffine(backend, x, y, k, b, null, null, { output: relu })
    })
  }
  return { kernelName: relu ? TRAINING_BATCH_NORM_RELU : TRAINING_BATCH_NORM, backendName: 'wasm', kernelFunc: kernelFunc as never }
}

/**
 * Its gradient through the batch statistics, in two passes: Σ dy and Σ dy · (x − mean), then
 * dx = dy · k + x · a + b per channel, with k = scale / σ, a = −k · Σ dy (x − mean) / (N σ²),
 * b = −k · Σ dy / N − a · mean; dscale = Σ dy (x − mean) / σ, doffset = Σ dy. With `relu`, of dy where the
 * forward output `y` is > 0 only (the ReLU's gradient in the same passes; {@link TRAINING_BATCH_NORM_RELU_GRAD}).
 */
export function makeTrainingBatchNormGrad(relu = false): KernelConfig {
  const kernelFunc = (args: Args): TensorInfo[] => {
    const backend = args.backend as WasmBackendLike
    const { dy, x, mean, variance, scale } = args.inputs as Record<'dy' | 'x' | 'mean' | 'variance' | 'scale', TensorInfo>
    const mask = relu ? (args.inputs.y as TensorInfo) : null
    const channels = x.shape[x.shape.length - 1]!
    const rows = util.sizeFromShape(x.shape) / channels
    return withOutputs(backend, [x.shape, [channels], [channels]], (outs) => {
      const [dx, dscale, doffset] = outs as [TensorInfo, TensorInfo, TensorInfo]
      const [s1, s2] = channelDotSums(backend, dy, x, mean, channels, mask)
      const m = heapF32(backend, mean)
      const v = heapF32(backend, variance)
      const g = heapF32(backend, scale)
      const epsilon = args.attrs.varianceEpsilon as number
      const k = new Float32Array(channels)
      const a = new Float32Array(channels)
      const b = new Float32Array(channels)
      const ds = new Float32Array(channels)
      const dof = new Float32Array(channels)
      for (let c = 0; c < channels; c++) {
        const rstd = 1 / Math.sqrt((v[c] as number) + epsilon)
        const kc = (g[c] as number) * rstd
        const ac = (-kc * rstd * rstd * (s2[c] as number)) / rows
        k[c] = kc
        a[c] = ac
        b[c] = (-kc * (s1[c] as number)) / rows - ac * (m[c] as number)
        ds[c] = rstd * (s2[c] as number)
        dof[c] = s1[c] as number
      }
      heapF32(backend, dscale).set(ds)
      heapF32(backend, doffset).set(dof)
      channelAffine(backend, dy, dx, k, b, x, a, mask === null ? {} : { mask })
    })
  }
  return { kernelName: relu ? TRAINING_BATCH_NORM_RELU_GRAD : TRAINING_BATCH_NORM_GRAD, backendName: 'wasm', kernelFunc: kernelFunc as never }
}

/** A family of training batch-norm kernels: the plain forward kernel, and the one that adds a ReLU, if any. */
interface BatchNormKernels {
  plain: string
  relu: string | null
}

/** The families the layer may use, the preferred first. */
const families: BatchNormKernels[] = []
const withGradient = new Set<string>()

/**
 * Registers the gradient of a training batch-norm kernel (`forward`: x, scale, offset → y, mean, variance)
 * as one call of `grad` (dy, x, mean, variance, scale → dx, dscale, doffset); with `relu`, the same for a
 * kernel that applies a ReLU after the normalization, whose gradient takes its output as `y` and, where it
 * returns a fourth output (a workspace recording the ReLU's mask), that as `workspace`, and masks dy with one
 * of them. Then routes tfjs-layers' `BatchNormalization` layer, while training on wasm, to this family before
 * those registered earlier: the native addon's kernels come after the wasm ones and take precedence while
 * registered. The layer runs the ReLU kernel when only a ReLU layer reads its output (`batch-norm-relu.ts`)
 * and the family has one registered, the plain one otherwise.
 *
 * @param forward - the forward kernel's name
 * @param grad - its gradient kernel's name
 * @param relu - the kernel and gradient kernel with the ReLU, if the family has them
 */
export function useTrainingBatchNorm(forward: string, grad: string, relu?: { forward: string; grad: string }): void {
  registerTrainingGradient(forward, grad, false)
  if (relu !== undefined) registerTrainingGradient(relu.forward, relu.grad, true)
  const at = families.findIndex((f) => f.plain === forward)
  if (at >= 0) families.splice(at, 1)
  families.unshift({ plain: forward, relu: relu?.forward ?? null })
  patchBatchNormalizationLayer()
}

function registerTrainingGradient(forward: string, grad: string, relu: boolean): void {
  if (withGradient.has(forward)) return
  withGradient.add(forward)
  registerGradient({
    kernelName: forward,
    inputsToSave: ['x', 'scale'],
    // The ReLU'd output is saved too: the next convolution keeps it alive for its own gradient anyway.
    outputsToSave: relu ? [true, true, true, true] : [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dMean, dVariance] = dys as Tensor[]
      const [x, scale, ...outputs] = saved as Tensor[]
      const [y, mean, variance, workspace] = (relu ? outputs : [undefined, ...outputs]) as [Tensor | undefined, Tensor, Tensor, Tensor | undefined]
      const inputs: NamedTensorMap = { dy: dy!, x: x!, mean, variance, scale: scale! }
      if (y !== undefined) inputs.y = y
      if (workspace !== undefined) inputs.workspace = workspace
      const [dx, dScale, dOffset] = engine().runKernel(grad, inputs, attrs as never) as unknown as [Tensor, Tensor, Tensor]
      // The batch layer's mean and variance only feed the moving averages, outside the gradient, so tfjs
      // hands zeros here; a graph that differentiates through them gets their share as well (they are the
      // statistics before any ReLU, so the same formula holds).
      const statistics = (t: Tensor | undefined) => t !== undefined && (t.dataSync() as Float32Array).some((d) => d !== 0)
      const total =
        statistics(dMean) || statistics(dVariance)
          ? () => {
              const m = x!.size / x!.shape[x!.rank - 1]!
              return add(dx, add(div(dMean!, m), mul(sub(x!, mean), mul(dVariance!, 2 / m))))
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

/**
 * Makes tfjs-layers' `BatchNormalization` layer, in training mode on wasm, run one training batch-norm kernel
 * (the first of {@link useTrainingBatchNorm}'s that is registered; its gradient one backward kernel) instead
 * of tfjs's `moments` + `batchNormalization` (Mean, Sub, Square, Mean, FusedBatchNorm forward; about ten
 * full-size kernels and adds backward). The moving averages are updated with the same ops as the layer's own
 * code. Every other case (inference, another backend or axis, no scale or no center, not 4-D float32) runs
 * the layer's own `call`. Global (tfjs-layers has one class); patched once; does nothing when tfjs-layers is
 * not loaded.
 */
export function patchBatchNormalizationLayer(): void {
  patchLayersForReluFusion()
  if (stockCall !== null) return
  const proto = layerPrototype<{ call: LayerCall }>('BatchNormalization')
  if (proto === null) return
  const stock = proto.call
  stockCall = stock
  proto.call = function (this: BatchNormLayer, inputs, kwargs) {
    const x = oneTensor(inputs)
    const gamma = this.gamma ?? null
    const beta = this.beta ?? null
    const training = isTrainingCall(kwargs)
    const registered = (name: string) => getKernel(name, 'wasm') !== undefined
    const onWasm = getBackend() === 'wasm'
    const family = onWasm ? families.find((f) => registered(f.plain)) : undefined
    const fused = family?.relu != null && registered(family.relu) && mayFuseRelu(this) ? family.relu : undefined
    const kernel = fused ?? family?.plain
    if (
      kernel === undefined ||
      !training ||
      x === null ||
      gamma === null ||
      beta === null ||
      x.rank !== 4 ||
      x.dtype !== 'float32' ||
      x.shape.some((d) => d < 1) ||
      (this.axis !== -1 && this.axis !== 3)
    ) {
      return stock.call(this, inputs, kwargs)
    }
    const result = tidy(() => {
      // A ReLU kernel's fourth output, its workspace, is kept by the gradient tape alone.
      const [y, mean, variance] = engine().runKernel(kernel, { x, scale: gamma.read(), offset: beta.read() }, { varianceEpsilon: this.epsilon } as never) as unknown as [Tensor, Tensor, Tensor]
      // As the layer does it: variable ← variable − (variable − value) · (1 − momentum).
      for (const [variable, value] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        tidy(() => {
          const original = variable.read()
          variable.write(sub(original, mul(sub(original, value), 1 - this.momentum)))
        })
      }
      return y
    })
    if (fused !== undefined) markReluApplied(result)
    return result
  }
}
