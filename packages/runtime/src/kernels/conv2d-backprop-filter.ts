import {
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { WasmKernelError } from './errors'

import { convGeometry } from './conv-geometry'
import { gemmCalls, gemmLoops, gemmThreads, runGemm } from './gemm'
import { simdLoops, simdParallel } from './simd'
import { winogradFilterGrad, winogradFilterGradCase } from './winograd'
import { aliasInfo, disposeAlias, disposeInfo, heapF32, offsetOf, runWasmKernel, type WasmBackendLike } from './wasm-backend'

/**
 * Stride-1 filter gradient as one GEMM per filter tap, over views: no im2col.
 *
 * x is zero-padded into frames of frameH × frameW (frameH ≥ outH + K − 1) and stored channels-first, xT[c, u];
 * dy is placed at the top-left of the same frames with zeros elsewhere, dyPad[u, co]. With u the flattened
 * (image, row, column) index, tap (kh, kw) of the gradient is Σ_u xT[c, u + shift] · dyPad[u, co], shift =
 * kh·frameW + kw: the product of dyPad with xT read `shift` floats further on, a view, not a copy. Where the
 * view runs past the end of a channel's row into the next one, dyPad is zero (its margin is at least
 * `shift` long), so the overrun adds nothing; a zeroed tail keeps the last row's overrun inside the buffer.
 * Each product is one XNNPACK GEMM, [Ci, L] · [L, Co], written straight into dW[kh, kw].
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
  const rowLength = n * frameH * frameW
  const maxShift = (filterHeight - 1) * frameW + (filterWidth - 1)

  // Plain loops: the wasm Transpose and PadV2 kernels are several times slower at these shapes.
  const xT = backend.makeOutput([ci * rowLength + maxShift], 'float32')
  const dyPad = backend.makeOutput([rowLength, co], 'float32')
  const loops = ci % 4 === 0 && w % 4 === 0 ? simdLoops(backend) : null
  if (loops !== null) {
    heapF32(backend, xT).fill(0)
    const xBase = offsetOf(backend, x)
    const xTBase = offsetOf(backend, xT)
    const calls: number[][] = []
    for (let img = 0; img < n; img++) {
      for (let i = 0; i < h; i++) {
        const src0 = (img * h + i) * w * ci
        const dst0 = (img * frameH + i + padTop) * frameW + padLeft
        calls.push([xBase + src0 * 4, ci * 4, xTBase + dst0 * 4, rowLength * 4, w / 4, ci / 4])
      }
    }
    simdParallel(backend, loops, 'transpose4', calls)
  }
  {
    const xV = heapF32(backend, x)
    const xTV = heapF32(backend, xT)
    if (loops === null) xTV.fill(0)
    for (let img = 0; img < (loops === null ? n : 0); img++) {
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
    const rowLoops = co % 4 === 0 ? simdLoops(backend) : null
    if (rowLoops !== null) {
      // One image per call: p rows of q·co floats into rows frameW·co floats apart.
      const dyBase = offsetOf(backend, dy)
      const dyPadBase = offsetOf(backend, dyPad)
      const calls: number[][] = []
      for (let img = 0; img < n; img++) calls.push([dyBase + img * p * q * co * 4, q * co * 4, dyPadBase + img * frameH * frameW * co * 4, frameW * co * 4, p, (q * co) / 4])
      simdParallel(backend, rowLoops, 'copyRows', calls)
    } else {
      for (let img = 0; img < n; img++) {
        for (let i = 0; i < p; i++) {
          const src0 = (img * p + i) * q * co
          dyPadV.set(dyV.subarray(src0, src0 + q * co), (img * frameH + i) * frameW * co)
        }
      }
    }
  }

  const dw = backend.makeOutput([filterHeight, filterWidth, ci, co], 'float32')
  const xTOffset = offsetOf(backend, xT)
  const gemm = co % 4 === 0 ? gemmLoops(backend) : null
  if (gemm !== null) {
    // Our GEMM on this thread and the helpers, each with a share of dW's rows or columns for all taps; each
    // chunk of xT and dyPad (about 512 KB together) serves all taps while it is in cache.
    const job = { a: xTOffset, lda: rowLength * 4, b: offsetOf(backend, dyPad), ldb: co * 4, c: offsetOf(backend, dw), ldc: co * 4, m: ci, n: co, k: rowLength }
    const kc = Math.max(64, Math.floor(131072 / (ci + co)))
    const threads = gemmThreads(backend)
    const calls = gemmCalls(false, [job], threads === 1 ? 1 : 2 * threads).map(({ name, args }) => ({
      name: `${name}Taps`,
      args: [...args.slice(0, 9), kc, filterHeight, filterWidth, frameW, ci * co * 4],
    }))
    runGemm(backend, gemm, calls)
  }
  for (let kh = 0; kh < (gemm === null ? filterHeight : 0); kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      const view = aliasInfo(backend, xTOffset + (kh * frameW + kw) * 4, [ci, rowLength])
      const prod = runWasmKernel('BatchMatMul', backend, { a: view, b: dyPad }, { transposeA: false, transposeB: false })
      disposeAlias(backend, view)
      heapF32(backend, dw).set(heapF32(backend, prod), (kh * filterWidth + kw) * ci * co)
      disposeInfo(backend, prod)
    }
  }
  disposeInfo(backend, xT)
  disposeInfo(backend, dyPad)
  return dw
}


/**
 * The filter gradient of a 1 × 1, stride-1, unpadded convolution with one output channel (a U-Net's last
 * layer): dW[ci] = Σ_pixels dy[pixel] · x[pixel, ci], one `tn` product [1, L] · [L, C_in] over the tensors as
 * they lie (dW [1, 1, C_in, 1] is that row), where the tap loop would frame both and XNNPACK's product with
 * one column is slow. Null where it does not apply.
 */
function singleOutputPointwise(
  backend: WasmBackendLike,
  x: TensorInfo,
  dy: TensorInfo,
  g: { filterHeight: number; filterWidth: number; strideHeight: number; strideWidth: number; padTop: number; padLeft: number; outHeight: number; outWidth: number; inHeight: number; inWidth: number; inChannels: number; outChannels: number },
): TensorInfo | null {
  if (g.filterHeight !== 1 || g.filterWidth !== 1 || g.strideHeight !== 1 || g.strideWidth !== 1 || g.padTop !== 0 || g.padLeft !== 0) return null
  if (g.outHeight !== g.inHeight || g.outWidth !== g.inWidth || g.outChannels !== 1 || g.inChannels % 4 !== 0) return null
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') return null
  const gemm = gemmLoops(backend)
  if (gemm === null) return null
  const ci = g.inChannels
  const pixels = x.shape.slice(0, 3).reduce((a, b) => a * b, 1)
  const dw = backend.makeOutput([1, 1, ci, 1], 'float32')
  const threads = gemmThreads(backend)
  const job = { a: offsetOf(backend, dy), lda: 4, b: offsetOf(backend, x), ldb: ci * 4, c: offsetOf(backend, dw), ldc: ci * 4, m: 1, n: ci, k: pixels }
  runGemm(backend, gemm, gemmCalls(true, [job], threads === 1 ? 1 : 2 * threads))
  return dw
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
      throw new WasmKernelError(
        'KERNEL_UNSUPPORTED',
        "Conv2DBackpropFilter on wasm supports dataFormat 'NHWC' (channels last) only; build the model channels-last or transpose the input to NHWC.",
      )
    }
    const g = convGeometry(x.shape, attrs.filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode)
    const wino = winogradFilterGradCase(backend, x, dy, g)
    if (wino !== null) return winogradFilterGrad(backend, wino, x, dy)
    const single = singleOutputPointwise(backend, x, dy, g)
    if (single !== null) return single
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
