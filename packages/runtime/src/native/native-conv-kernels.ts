import { backend_util, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core'

import { convGeometry } from '../kernels/conv-geometry'
import { disposeInfo, heapF32, type WasmBackendLike } from '../kernels/wasm-backend'

import { KernelSwap } from './kernel-swap'
import { hasNativeBatchNorm, registerNativeBatchNorm, unregisterNativeBatchNorm, type NativeBatchNormAddon } from './native-batch-norm'
import { hasNativeChannelOps, registerNativeChannelOps, unregisterNativeChannelOps, type NativeChannelAddon } from './native-channel-ops'
import { hasNativeRelu, registerNativeRelu, unregisterNativeRelu, type NativeReluAddon } from './native-relu'

/**
 * What @unet/runtime needs from `@unet/runtime-native`'s addon (restated here so that this package's types
 * never name the optional package).
 */
export interface NativeConvAddon {
  conv(op: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, geometry: readonly number[], bias?: Float32Array | null, relu?: boolean): void
  setThreads?(n: number): void
  threads?(): number
  batchNormForward?: NativeBatchNormAddon['batchNormForward']
  batchNormBackward?: NativeBatchNormAddon['batchNormBackward']
  relu?: NativeReluAddon['relu']
  reluGrad?: NativeReluAddon['reluGrad']
  biasAdd?: NativeChannelAddon['biasAdd']
  channelSums?: NativeChannelAddon['channelSums']
}

/** The wasm kernels {@link registerNativeConvKernels} replaces. */
export const NATIVE_CONV_KERNELS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const

const FORWARD = 0
const BACKWARD_DATA = 1
const BACKWARD_WEIGHTS = 2

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding

/** `[N, H, W, inC, outH, outW, outC, kH, kW, sH, sW, padTop, padLeft, padBottom, padRight]` as tfjs computes it. */
export function nativeGeometry(
  inputShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): number[] {
  const g = convGeometry(inputShape, filterShape, strides, pad, dimRoundingMode)
  return [g.batch, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth, g.outChannels, g.filterHeight, g.filterWidth,
    g.strideHeight, g.strideWidth, g.padTop, g.padLeft, g.padBottom, g.padRight]
}

function isDilated(dilations: unknown): boolean {
  if (dilations === undefined || dilations === null) return false
  return Array.isArray(dilations) ? dilations.some((d) => d !== 1) : dilations !== 1
}

function nativeCase(attrs: NamedAttrMap, inputs: TensorInfo[]): boolean {
  if (attrs.dataFormat === 'NCHW' || isDilated(attrs.dilations)) return false
  return inputs.every((t) => t.dtype === 'float32' && t.shape.length === 4 && t.shape.every((d) => d > 0))
}

/**
 * Registered kernels, by the addon they call: registering the same addon again is a no-op, so that
 * `initBackend` may run more than once in a process.
 */
let registeredWith: NativeConvAddon | null = null
/** What {@link registerNativeConvKernels} registered with it. */
let registeredNames: string[] = []

/**
 * Replaces the wasm backend's `Conv2D`, `FusedConv2D` (with a per-channel bias and a ReLU or no activation,
 * run as oneDNN post-ops in the same pass), `Conv2DBackpropInput` and `Conv2DBackpropFilter` with oneDNN's
 * convolutions from `@unet/runtime-native`, reading and writing the wasm heap in place. Every other case
 * (NCHW, dilation, another fused activation or a broadcast bias, non-float32) and any
 * geometry oneDNN rejects goes to the kernel registered before, so call this after
 * {@link registerWasmTrainingKernels} — `initBackend` does both when it picks wasm.
 *
 * When the addon also has oneDNN's batch norm (builds from issue 18 on), tfjs-layers' `BatchNormalization`
 * layers train through it as well: one forward kernel (`UnetNativeBatchNorm`: the batch's statistics and the
 * normalized output) and one backward pass, instead of tfjs's moments and about ten full-size kernels; and
 * `Relu` and its gradient, per-channel bias `Add`s and `Sum`s over all axes but the last run as the addon's
 * single-pass loops.
 *
 * @param addon - the addon, as `loadNativeConv()` of `@unet/runtime-native` returns it
 * @returns the names of the kernels replaced, then the batch-norm, ReLU and per-channel ones
 *   (`UnetNativeBatchNorm`, `UnetNativeBatchNormGrad`, `Relu`, `UnetReluGrad`, `Add`, `Sum`)
 * @example
 * ```ts
 * import { loadNativeConv } from '@unet/runtime-native'
 * import { registerNativeConvKernels, registerWasmTrainingKernels } from '@unet/runtime'
 *
 * registerWasmTrainingKernels()
 * const addon = loadNativeConv()
 * if (addon) registerNativeConvKernels(addon) // ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'UnetNativeBatchNorm', …]
 * ```
 */
export function registerNativeConvKernels(addon: NativeConvAddon): string[] {
  if (registeredWith === addon) return [...registeredNames]
  if (registeredWith !== null) unregisterNativeConvKernels()
  const swap = new KernelSwap()
  for (const name of NATIVE_CONV_KERNELS) {
    const replaced = swap.replace(name, (fallback): KernelFunc => (args) => {
      const backend = args.backend as unknown as WasmBackendLike
      const attrs = args.attrs ?? {}
      const inputs = args.inputs as Record<string, TensorInfo | undefined>
      let op: 0 | 1 | 2
      let a: TensorInfo, b: TensorInfo, outShape: number[], geometry: number[]
      let bias: TensorInfo | null = null
      let relu = false
      if (name === 'Conv2D' || name === 'FusedConv2D') {
        if (name === 'FusedConv2D') {
          const activation = (attrs.activation ?? 'linear') as string
          if (inputs.preluActivationWeights != null || (activation !== 'linear' && activation !== 'relu')) return fallback(args)
          relu = activation === 'relu'
          bias = inputs.bias ?? null
          // A bias of one value per output channel; tfjs also allows a broadcast scalar, which wasm's kernel takes.
          const channels = inputs.filter?.shape[3]
          if (bias !== null && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== channels)) return fallback(args)
        }
        a = inputs.x!
        b = inputs.filter!
        if (!nativeCase(attrs, [a, b])) return fallback(args)
        geometry = nativeGeometry(a.shape, b.shape, attrs.strides as [number, number], attrs.pad as Pad, attrs.dimRoundingMode as undefined)
        op = FORWARD
        outShape = [geometry[0]!, geometry[4]!, geometry[5]!, geometry[6]!]
      } else if (name === 'Conv2DBackpropInput') {
        a = inputs.dy!
        b = inputs.filter!
        if (!nativeCase(attrs, [a, b])) return fallback(args)
        const inputShape = attrs.inputShape as number[]
        geometry = nativeGeometry(inputShape, b.shape, attrs.strides as [number, number], attrs.pad as Pad, attrs.dimRoundingMode as undefined)
        op = BACKWARD_DATA
        outShape = [...inputShape]
      } else {
        a = inputs.x!
        b = inputs.dy!
        if (!nativeCase(attrs, [a, b])) return fallback(args)
        const filterShape = attrs.filterShape as number[]
        geometry = nativeGeometry(a.shape, filterShape, attrs.strides as [number, number], attrs.pad as Pad, attrs.dimRoundingMode as undefined)
        op = BACKWARD_WEIGHTS
        outShape = [...filterShape]
      }
      const out = backend.makeOutput(outShape, 'float32')
      try {
        // Views after the last allocation: any allocation may grow (and so replace) the heap.
        if (bias === null && !relu) addon.conv(op, heapF32(backend, a), heapF32(backend, b), heapF32(backend, out), geometry)
        else addon.conv(op, heapF32(backend, a), heapF32(backend, b), heapF32(backend, out), geometry, bias === null ? null : heapF32(backend, bias), relu)
      } catch {
        // A geometry oneDNN does not take (e.g. padding it finds inconsistent): the wasm kernel computes it.
        disposeInfo(backend, out)
        return fallback(args)
      }
      return out
    })
    if (!replaced) {
      swap.restore()
      throw new Error(`registerNativeConvKernels: '${name}' is not registered on wasm; import '@tensorflow/tfjs-backend-wasm' first.`)
    }
  }
  convSwap = swap
  registeredWith = addon
  registeredNames = [
    ...NATIVE_CONV_KERNELS,
    ...(hasNativeBatchNorm(addon) ? registerNativeBatchNorm(addon) : []),
    ...(hasNativeRelu(addon) ? registerNativeRelu(addon) : []),
    ...(hasNativeChannelOps(addon) ? registerNativeChannelOps(addon) : []),
  ]
  return [...registeredNames]
}

let convSwap = new KernelSwap()

/**
 * Puts back the kernels {@link registerNativeConvKernels} replaced (for tests and benchmarks that compare).
 *
 * @returns the names of the kernels restored and removed (empty when none were registered)
 * @example
 * ```ts
 * import { unregisterNativeConvKernels } from '@unet/runtime'
 *
 * unregisterNativeConvKernels() // back to the wasm kernels
 * ```
 */
export function unregisterNativeConvKernels(): string[] {
  if (registeredWith === null) return []
  convSwap.restore()
  registeredWith = null
  unregisterNativeBatchNorm()
  unregisterNativeRelu()
  unregisterNativeChannelOps()
  const names = registeredNames
  registeredNames = []
  return names
}
