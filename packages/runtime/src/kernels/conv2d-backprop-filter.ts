import {
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { convGeometry } from './conv-geometry'
import { disposeInfo, runWasmKernel, type WasmBackendLike } from './wasm-backend'

/**
 * Filter gradient of a 2-D convolution on the wasm backend (tfjs-backend-wasm has none).
 *
 * dW[kh, kw, ci, co] = Σ_{n,p,q} x[n, p·s + kh − padTop, q·s + kw − padLeft, ci] · dy[n, p, q, co], which
 * is itself a convolution: channels of x become the batch, the batch becomes the channels, dy is the
 * filter and the stride becomes a dilation. XNNPACK runs it.
 */
export function makeConv2DBackpropFilter(): KernelConfig {
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: Record<string, unknown> }): TensorInfo => {
    const backend = args.backend as WasmBackendLike
    const x = args.inputs.x as TensorInfo
    const dy = args.inputs.dy as TensorInfo
    const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs
    if (attrs.dataFormat === 'NCHW') {
      throw new Error("Conv2DBackpropFilter on wasm supports dataFormat 'NHWC' only; transpose the input to NHWC.")
    }
    const g = convGeometry(x.shape, attrs.filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode)
    // Rows of x the convolution can reach; the rest would need a negative pad, so they are cut off.
    const reachH = g.filterHeight + (g.outHeight - 1) * g.strideHeight - g.padTop
    const reachW = g.filterWidth + (g.outWidth - 1) * g.strideWidth - g.padLeft
    let xs = x
    if (reachH < g.inHeight || reachW < g.inWidth) {
      xs = runWasmKernel('Slice', backend, { x }, {
        begin: [0, 0, 0, 0],
        size: [g.batch, Math.min(reachH, g.inHeight), Math.min(reachW, g.inWidth), g.inChannels],
      })
    }
    const xt = runWasmKernel('Transpose', backend, { x: xs }, { perm: [3, 1, 2, 0] })
    if (xs !== x) disposeInfo(backend, xs)
    const dyt = runWasmKernel('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] })
    const h = xt.shape[1] as number
    const w = xt.shape[2] as number
    const r = runWasmKernel('Conv2D', backend, { x: xt, filter: dyt }, {
      strides: [1, 1],
      pad: [[0, 0], [g.padTop, reachH - h], [g.padLeft, reachW - w], [0, 0]],
      dataFormat: 'NHWC',
      dilations: [g.strideHeight, g.strideWidth],
    })
    disposeInfo(backend, xt)
    disposeInfo(backend, dyt)
    const dw = runWasmKernel('Transpose', backend, { x: r }, { perm: [1, 2, 0, 3] })
    disposeInfo(backend, r)
    return dw
  }
  return { kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc }
}
