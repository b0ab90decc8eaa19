import {
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { convGeometry } from './conv-geometry'
import { aliasInfo, disposeAlias, disposeInfo, heapF32, runWasmKernel, type WasmBackendLike } from './wasm-backend'

/**
 * Upper bound on the floats of one shifted-copy block (A below), to keep peak memory modest. Internal; the
 * tests lower it to exercise the blocking.
 */
export const filterGradTuning = { blockFloats: 8 * 1024 * 1024 }

/**
 * Stride-1 filter gradient as one large GEMM per group of images.
 *
 * x is zero-padded into frames of frameH × frameW (frameH ≥ outH + K − 1), transposed channels-first, and dy
 * is placed at the top-left of the same frames with zeros elsewhere. Flattening (image, row, column) into
 * one index u, tap (kh, kw) is Σ_u xT[ci, u + kh·frameW + kw] · dyPad[u, co]; the zeros around dy keep the
 * shifted index from mixing rows or images. Stacking the shifted rows of xT for every tap (plain memcpy,
 * no im2col gather) gives A = [taps·Ci, L], and A · dyPad[0:L] = [taps, Ci, Co] is the whole gradient in
 * the filter's own layout, computed by one XNNPACK GEMM that packs dy once.
 *
 * @returns [K_h, K_w, inChannels, outChannels], the caller's to dispose.
 */
function stride1FilterGrad(
  backend: WasmBackendLike,
  x: TensorInfo,
  dy: TensorInfo,
  filterHeight: number,
  filterWidth: number,
  padTop: number,
  padLeft: number,
): TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const [, p, q, co] = dy.shape as [number, number, number, number]
  const frameH = Math.max(p + filterHeight - 1, h + padTop)
  const frameW = Math.max(q + filterWidth - 1, w + padLeft)
  const frame = frameH * frameW
  const taps = filterHeight * filterWidth
  const maxShift = (filterHeight - 1) * frameW + (filterWidth - 1)

  // xT[c, n, padTop + i, padLeft + j] = x[n, i, j, c], zero elsewhere; dyPad[n, i, j, :] = dy[n, i, j, :]
  // for i < p, j < q, zero elsewhere. Plain loops: the wasm Transpose and PadV2 kernels are several times
  // slower at these shapes.
  const rowLength = n * frame
  const xT = backend.makeOutput([ci, rowLength], 'float32')
  const dyPad = backend.makeOutput([rowLength, co], 'float32')
  {
    const xV = heapF32(backend, x)
    const xTV = heapF32(backend, xT)
    xTV.fill(0)
    for (let img = 0; img < n; img++) {
      for (let i = 0; i < h; i++) {
        const src0 = (img * h + i) * w * ci
        const dst0 = (img * frameH + i + padTop) * frameW + padLeft
        for (let c = 0; c < ci; c++) {
          const dstRow = c * rowLength + dst0
          for (let j = 0, s = src0 + c; j < w; j++, s += ci) xTV[dstRow + j] = xV[s] as number
        }
      }
    }
    const dyV = heapF32(backend, dy)
    const dyPadV = heapF32(backend, dyPad)
    dyPadV.fill(0)
    for (let img = 0; img < n; img++) {
      for (let i = 0; i < p; i++) {
        const src0 = (img * p + i) * q * co
        dyPadV.set(dyV.subarray(src0, src0 + q * co), (img * frameH + i) * frameW * co)
      }
    }
  }

  const imagesPerBlock = Math.max(1, Math.min(n, Math.floor(filterGradTuning.blockFloats / (taps * ci * frame))))
  const dw = backend.makeOutput([filterHeight, filterWidth, ci, co], 'float32')
  for (let n0 = 0; n0 < n; n0 += imagesPerBlock) {
    const images = Math.min(imagesPerBlock, n - n0)
    // The last maxShift positions of a block hold only dy's zero margin, so they are left out.
    const length = images * frame - maxShift
    const a = backend.makeOutput([taps * ci, length], 'float32')
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer)
    const aBase = offsetOf(backend, a) >>> 2
    const xBase = offsetOf(backend, xT) >>> 2
    for (let kh = 0; kh < filterHeight; kh++) {
      for (let kw = 0; kw < filterWidth; kw++) {
        const shift = kh * frameW + kw
        const tap = kh * filterWidth + kw
        for (let c = 0; c < ci; c++) {
          const from = xBase + c * rowLength + n0 * frame + shift
          heap.copyWithin(aBase + (tap * ci + c) * length, from, from + length)
        }
      }
    }
    const b = aliasInfo(backend, offsetOf(backend, dyPad) + n0 * frame * co * 4, [length, co])
    const prod = runWasmKernel('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false })
    disposeAlias(backend, b)
    disposeInfo(backend, a)
    const src = heapF32(backend, prod)
    const dst = heapF32(backend, dw)
    if (n0 === 0) dst.set(src)
    else for (let i = 0; i < dst.length; i++) dst[i] = (dst[i] as number) + (src[i] as number)
    disposeInfo(backend, prod)
  }
  disposeInfo(backend, xT)
  disposeInfo(backend, dyPad)
  return dw
}

function offsetOf(backend: WasmBackendLike, info: TensorInfo): number {
  return (backend.dataIdMap.get(info.dataId) as { memoryOffset: number }).memoryOffset
}

/**
 * Filter gradient of a 2-D convolution on the wasm backend (tfjs-backend-wasm has none).
 *
 * dW[kh, kw, ci, co] = Σ_{n,p,q} x[n, p·s + kh − padTop, q·s + kw − padLeft, ci] · dy[n, p, q, co]. Stride 1
 * runs as one GEMM per tap ({@link stride1FilterGrad}); stride s > 1 first folds each s × s block of x into
 * channels (space-to-depth), which turns it into a stride-1 problem with ceil(K / s) taps.
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
    if (g.strideHeight === 1 && g.strideWidth === 1) {
      return stride1FilterGrad(backend, x, dy, g.filterHeight, g.filterWidth, g.padTop, g.padLeft)
    }
    const sh = g.strideHeight
    const sw = g.strideWidth
    // With zTop = padTop mod s zero rows on top, the row x[s·p + s·m + r − padTop] that tap s·m + r meets
    // is phase r of block row p + m − blocksTop, where blocksTop = floor(padTop / s).
    const blocksTop = Math.floor(g.padTop / sh)
    const blocksLeft = Math.floor(g.padLeft / sw)
    const zTop = g.padTop - blocksTop * sh
    const zLeft = g.padLeft - blocksLeft * sw
    const tapsH = Math.ceil(g.filterHeight / sh)
    const tapsW = Math.ceil(g.filterWidth / sw)
    // Block rows the taps can reach; rows of x beyond them never meet dy.
    const blockRows = Math.max(1, g.outHeight + tapsH - 1 - blocksTop)
    const blockCols = Math.max(1, g.outWidth + tapsW - 1 - blocksLeft)
    let xs = x
    const keepH = Math.min(g.inHeight, blockRows * sh - zTop)
    const keepW = Math.min(g.inWidth, blockCols * sw - zLeft)
    if (keepH < g.inHeight || keepW < g.inWidth) {
      xs = runWasmKernel('Slice', backend, { x }, { begin: [0, 0, 0, 0], size: [g.batch, keepH, keepW, g.inChannels] })
    }
    const padded = runWasmKernel('PadV2', backend, { x: xs }, {
      paddings: [[0, 0], [zTop, blockRows * sh - keepH - zTop], [zLeft, blockCols * sw - keepW - zLeft], [0, 0]],
      constantValue: 0,
    })
    if (xs !== x) disposeInfo(backend, xs)
    const ci = g.inChannels
    const co = g.outChannels
    const blocks = { ...padded, shape: [g.batch, blockRows, sh, blockCols, sw, ci] }
    const s2d = runWasmKernel('Transpose', backend, { x: blocks }, { perm: [0, 1, 3, 2, 4, 5] })
    disposeInfo(backend, padded)
    const folded = { ...s2d, shape: [g.batch, blockRows, blockCols, sh * sw * ci] }
    const dwFolded = stride1FilterGrad(backend, folded, dy, tapsH, tapsW, blocksTop, blocksLeft)
    disposeInfo(backend, s2d)
    // dwFolded[th, tw, (rh, rw, ci), co] is dW[th·s + rh, tw·s + rw, ci, co].
    const dw = backend.makeOutput([g.filterHeight, g.filterWidth, ci, co], 'float32')
    const src = heapF32(backend, dwFolded)
    const dst = heapF32(backend, dw)
    for (let kh = 0; kh < g.filterHeight; kh++) {
      for (let kw = 0; kw < g.filterWidth; kw++) {
        const th = Math.floor(kh / sh)
        const tw = Math.floor(kw / sw)
        const from = ((th * tapsW + tw) * sh * sw + (kh % sh) * sw + (kw % sw)) * ci * co
        dst.set(src.subarray(from, from + ci * co), (kh * g.filterWidth + kw) * ci * co)
      }
    }
    disposeInfo(backend, dwFolded)
    return dw
  }
  return { kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc }
}
