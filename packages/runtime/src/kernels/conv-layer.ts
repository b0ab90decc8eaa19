import { conv2d, engine, getBackend, Variable, type Tensor, type Tensor4D } from '@tensorflow/tfjs-core'

import { layerPrototype, oneTensor } from './layer-patch'

/** The fields of tfjs-layers' `Conv2D` layer that the patched call reads. */
interface Conv2DLayer {
  rank: number
  dataFormat: string
  padding: string
  strides: number[]
  dilationRate: number | number[]
  activation: { getClassName(): string }
  bias: unknown
  kernel: { read(): Tensor }
}
type LayerCall = (this: Conv2DLayer, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>) => Tensor | Tensor[]

let stockCall: LayerCall | null = null
let patchedPrototype: { call: LayerCall } | null = null
/** Whether `Conv2D.prototype` had a `call` of its own before (in tfjs-layers 4 it inherits `Conv`'s). */
let ownCall = false

/** Whether `x` is a leaf of the gradient being recorded: no recorded op made it, and it is no variable. */
function isLeaf(x: Tensor): boolean {
  if (x instanceof Variable) return false
  const tape = (engine().state as unknown as { activeTape?: Array<{ outputs: Tensor[] }> | null }).activeTape
  if (tape == null) return false
  for (const node of tape) {
    for (const out of node.outputs) if (out.id === x.id) return false
  }
  return true
}

/**
 * While a gradient is being recorded on wasm, a tfjs-layers `Conv2D` layer whose input is a leaf of it (the
 * model's input: no recorded op made it) and which has no bias and a linear activation (a convolution before a
 * batch norm) runs `tf.conv2d` instead of the layer's `tf.fused.conv2d`. Both run the same forward
 * computation, but the fused op's gradient (a `customGrad`) computes the input gradient with the filter
 * gradient whether anything reads it or not, while `Conv2D`'s registered gradient is computed only when asked:
 * a U-Net's first convolution no longer computes dL/d(image) (on 128 × 128 × 16, batch 8: ~4.5 ms a step with
 * oneDNN, ~10 ms on wasm alone, 1 thread). Every other case, and inference, runs the layer's own call. The
 * gradients that are computed are the same kernels with the same inputs, so the weights train bit for bit as
 * before. Idempotent; does nothing when tfjs-layers is not loaded.
 *
 * @returns whether `Conv2D` is patched (false: tfjs-layers is not loaded)
 */
export function patchConvLayerInputGradient(): boolean {
  if (stockCall !== null) return true
  const proto = layerPrototype<{ call: LayerCall }>('Conv2D')
  if (proto === null) return false
  const stock = proto.call
  stockCall = stock
  patchedPrototype = proto
  ownCall = Object.prototype.hasOwnProperty.call(proto, 'call')
  proto.call = function (this: Conv2DLayer, inputs, kwargs) {
    const x = oneTensor(inputs)
    if (
      x === null ||
      engine().state.gradientDepth === 0 ||
      getBackend() !== 'wasm' ||
      this.rank !== 2 ||
      this.dataFormat !== 'channelsLast' ||
      this.bias != null ||
      this.activation.getClassName() !== 'linear' ||
      (this.padding !== 'same' && this.padding !== 'valid') ||
      x.rank !== 4 ||
      !isLeaf(x)
    ) {
      return stock.call(this, inputs, kwargs)
    }
    const dilations = typeof this.dilationRate === 'number' ? this.dilationRate : (this.dilationRate as [number, number])
    return conv2d(x as Tensor4D, this.kernel.read() as Tensor4D, this.strides as [number, number], this.padding, 'NHWC', dilations)
  }
  return true
}

/** Puts tfjs-layers' own `Conv2D.call` back (for tests that compare). */
export function unpatchConvLayerInputGradient(): void {
  if (stockCall === null || patchedPrototype === null) return
  if (ownCall) patchedPrototype.call = stockCall
  else delete (patchedPrototype as { call?: LayerCall }).call
  stockCall = null
  patchedPrototype = null
}
