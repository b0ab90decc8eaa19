import {
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { WasmKernelError } from './errors'

import { convGeometry } from './conv-geometry'
import { simdLoops, simdParallel } from './simd'
import { disposeInfo, heapF32, offsetOf, runWasmKernel, type WasmBackendLike } from './wasm-backend'
import { winogradCase, winogradConv3x3 } from './winograd'

/**
 * How one spatial axis of the input gradient is computed as a stride-1 convolution of dy.
 *
 * Input row i receives dy[p] · w[k] wherever p·s + k − padBefore = i. Writing i + padBefore = a·s + r, the
 * rows of one phase r form a stride-1 correlation of dy with the taps k ≡ r (mod s), flipped: every phase
 * is one slice of the output channels of a single convolution, and DepthToSpace interleaves them. Unlike
 * zero-inserting dy, no multiply is spent on an inserted zero.
 */
interface AxisPlan {
  /** Taps per phase: ceil(K / s). */
  taps: number
  padBefore: number
  padAfter: number
  /** Leading rows of dy that reach no input row (explicit padding wider than the filter). */
  skip: number
  /** First input row in the interleaved (DepthToSpace) output. */
  cropOffset: number
}

function planAxis(inLength: number, outLength: number, filter: number, stride: number, padBefore: number): AxisPlan {
  const taps = Math.ceil(filter / stride)
  const first = Math.floor(padBefore / stride)
  const last = Math.floor((padBefore + inLength - 1) / stride)
  const before = taps - 1 - first
  return {
    taps,
    padBefore: Math.max(0, before),
    padAfter: Math.max(0, last + 1 - outLength),
    skip: Math.max(0, -before),
    cropOffset: padBefore - first * stride,
  }
}

/**
 * Input gradient of a 2-D convolution (also the forward pass of a transposed convolution) on the wasm
 * backend, as one XNNPACK convolution of dy with a rearranged filter, then DepthToSpace for strides > 1.
 * Falls back to `fallback` (the stock kernel) for layouts it does not cover: NCHW, unequal strides.
 */
export function makeConv2DBackpropInput(stock: KernelConfig | undefined): KernelConfig {
  let stockReady = false
  const fallback = (args: unknown): TensorInfo => {
    if (stock === undefined) throw new WasmKernelError(
        'KERNEL_UNSUPPORTED',
        'Conv2DBackpropInput on wasm: NCHW data or unequal strides need the stock tfjs-backend-wasm kernel, which is not registered; import @tensorflow/tfjs-backend-wasm before registering the training kernels.',
      )
    // Our kernel replaced the stock one before the backend started, so its setup has not run yet.
    if (!stockReady) stock.setupFunc?.((args as { backend: never }).backend)
    stockReady = true
    return stock.kernelFunc(args as never) as TensorInfo
  }
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: Record<string, unknown> }): TensorInfo => {
    const backend = args.backend as WasmBackendLike
    const dy = args.inputs.dy as TensorInfo
    const filter = args.inputs.filter as TensorInfo
    const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs
    const g = convGeometry(attrs.inputShape, filter.shape, attrs.strides, attrs.pad, attrs.dimRoundingMode)
    const rows = planAxis(g.inHeight, g.outHeight, g.filterHeight, g.strideHeight, g.padTop)
    const cols = planAxis(g.inWidth, g.outWidth, g.filterWidth, g.strideWidth, g.padLeft)
    if (
      attrs.dataFormat === 'NCHW' ||
      g.strideHeight !== g.strideWidth ||
      rows.skip >= g.outHeight ||
      cols.skip >= g.outWidth
    ) {
      return fallback(args)
    }
    const s = g.strideHeight
    const ci = g.inChannels
    const co = g.outChannels
    const phases = s * s

    // Rearranged filter [taps, taps, outChannels, phases * inChannels], zero where a phase has fewer taps.
    const wc = backend.makeOutput([rows.taps, cols.taps, co, phases * ci], 'float32')
    const dst = heapF32(backend, wc)
    const src = heapF32(backend, filter)
    dst.fill(0)
    const kw = g.filterWidth
    for (let th = 0; th < rows.taps; th++) {
      for (let tw = 0; tw < cols.taps; tw++) {
        for (let rh = 0; rh < s; rh++) {
          const fh = s * (rows.taps - 1 - th) + rh
          if (fh >= g.filterHeight) continue
          for (let rw = 0; rw < s; rw++) {
            const fw = s * (cols.taps - 1 - tw) + rw
            if (fw >= kw) continue
            const srcBase = (fh * kw + fw) * ci * co
            const dstBase = (th * cols.taps + tw) * co * phases * ci + (rh * s + rw) * ci
            for (let c = 0; c < ci; c++) {
              const srcRow = srcBase + c * co
              for (let o = 0; o < co; o++) dst[dstBase + o * phases * ci + c] = src[srcRow + o] as number
            }
          }
        }
      }
    }

    let dyUsed = dy
    if (rows.skip > 0 || cols.skip > 0) {
      dyUsed = runWasmKernel('Slice', backend, { x: dy }, {
        begin: [0, rows.skip, cols.skip, 0],
        size: [g.batch, g.outHeight - rows.skip, g.outWidth - cols.skip, co],
      })
    }
    const convAttrs = {
      strides: [1, 1] as [number, number],
      pad: [[0, 0], [rows.padBefore, rows.padAfter], [cols.padBefore, cols.padAfter], [0, 0]],
      dataFormat: 'NHWC',
      dilations: [1, 1] as [number, number],
    }
    // The input gradient of a 3 × 3 stride-1 'same' convolution is one too: Winograd where it pays.
    const wino = winogradCase(backend, dyUsed, wc, convAttrs)
    const z = wino !== null ? winogradConv3x3(backend, wino, dyUsed, wc, null, false) : runWasmKernel('Conv2D', backend, { x: dyUsed, filter: wc }, convAttrs)
    disposeInfo(backend, wc)
    if (dyUsed !== dy) disposeInfo(backend, dyUsed)
    if (s === 1) {
      const [, zH, zW] = z.shape as [number, number, number, number]
      if (rows.cropOffset === 0 && cols.cropOffset === 0 && zH === g.inHeight && zW === g.inWidth) return z
      const dx = runWasmKernel('Slice', backend, { x: z }, {
        begin: [0, rows.cropOffset, cols.cropOffset, 0],
        size: [g.batch, g.inHeight, g.inWidth, ci],
      })
      disposeInfo(backend, z)
      return dx
    }
    // Interleave the phases (a DepthToSpace) and crop in one pass; the stock DepthToSpace kernel is slow.
    const dx = backend.makeOutput([g.batch, g.inHeight, g.inWidth, ci], 'float32')
    const [, zH, zW, zC] = z.shape as [number, number, number, number]
    const loops = ci % 4 === 0 ? simdLoops(backend) : null
    if (loops !== null) {
      // Per output row and column phase, one strided copy of whole pixels.
      const zBase = offsetOf(backend, z)
      const dxBase = offsetOf(backend, dx)
      const calls: number[][] = []
      for (let img = 0; img < g.batch; img++) {
        for (let i = 0; i < g.inHeight; i++) {
          const ii = i + rows.cropOffset
          const rowBase = (img * zH + Math.floor(ii / s)) * zW
          const rh = ii % s
          for (let rw = 0; rw < s; rw++) {
            const j0 = (((rw - cols.cropOffset) % s) + s) % s
            if (j0 >= g.inWidth) continue
            const count = Math.ceil((g.inWidth - j0) / s)
            const b0 = (j0 + cols.cropOffset - rw) / s
            calls.push([
              zBase + ((rowBase + b0) * zC + (rh * s + rw) * ci) * 4,
              zC * 4,
              dxBase + ((img * g.inHeight + i) * g.inWidth + j0) * ci * 4,
              s * ci * 4,
              count,
              ci / 4,
            ])
          }
        }
      }
      simdParallel(backend, loops, 'copyRows', calls)
      disposeInfo(backend, z)
      return dx
    }
    const zV = heapF32(backend, z)
    const dxV = heapF32(backend, dx)
    let d = 0
    for (let img = 0; img < g.batch; img++) {
      for (let i = 0; i < g.inHeight; i++) {
        const ii = i + rows.cropOffset
        const rowBase = (img * zH + Math.floor(ii / s)) * zW
        const phaseRow = (ii % s) * s
        for (let j = 0; j < g.inWidth; j++) {
          const jj = j + cols.cropOffset
          const src = (rowBase + Math.floor(jj / s)) * zC + (phaseRow + (jj % s)) * ci
          for (let c = 0; c < ci; c++) dxV[d++] = zV[src + c] as number
        }
      }
    }
    disposeInfo(backend, z)
    return dx
  }
  return { kernelName: Conv2DBackpropInput, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc }
}

