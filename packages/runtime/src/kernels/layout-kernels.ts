import {
  Add,
  backend_util,
  Concat,
  FusedBatchNorm,
  MaxPoolGrad,
  Mean,
  SplitV,
  Sum,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core'

import { WasmKernelError } from './errors'

import { blockedChannelSums, channelAffine, simdLoops, simdParallel, simdRows } from './simd'
import { heapF32, offsetOf, stockKernel, type KernelArgs, type WasmBackendLike } from './wasm-backend'

// Kernels whose stock wasm versions are slow at the shapes of a channels-last CNN: reductions over every
// axis but the channels (batch-norm statistics and their gradients; the stock ones transpose the whole
// tensor first), concatenation and splitting along channels (U-Net skip connections), and max-pool's
// gradient. Each handles the channels-last float32 case in plain loops over the wasm heap and hands
// anything else to the stock kernel.

function config(name: string, kernel: (args: KernelArgs, stock: (args: unknown) => unknown) => TensorInfo | TensorInfo[] | null): KernelConfig {
  const stock = stockKernel(name)
  const fallback = (args: unknown) => {
    if (stock === undefined) throw new WasmKernelError(
        'KERNEL_UNSUPPORTED',
        `${name} on wasm: this case needs the stock tfjs-backend-wasm kernel, which is not registered; import @tensorflow/tfjs-backend-wasm before registering the training kernels.`,
      )
    return stock(args)
  }
  const kernelFunc = (args: KernelArgs) => kernel(args, fallback) ?? (fallback(args) as TensorInfo)
  return { kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc }
}

/** Per-channel sums of a [rows, channels] float32 view, in float64. */
export function channelSums(values: Float32Array, channels: number): Float64Array {
  const sums = new Float64Array(channels)
  const n = values.length
  for (let i = 0; i < n; i += channels) {
    for (let c = 0; c < channels; c++) sums[c] = (sums[c] as number) + (values[i + c] as number)
  }
  return sums
}

function leadingReduction(name: string, divide: boolean): KernelConfig {
  return config(name, ({ inputs, backend, attrs }) => {
    const x = inputs.x as TensorInfo
    if (x.dtype !== 'float32' || x.shape.length < 2) return null
    const axes = util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((a, b) => a - b)
    const rank = x.shape.length
    if (axes.length !== rank - 1 || axes.some((a, i) => a !== i)) return null
    const channels = x.shape[rank - 1] as number
    const rows = util.sizeFromShape(x.shape) / channels
    if (rows === 0) return null
    const wasm = backend as WasmBackendLike
    const shape = attrs.keepDims === true ? [...x.shape.slice(0, -1).map(() => 1), channels] : [channels]
    const out = wasm.makeOutput(shape, 'float32')
    const loops = channels % 4 === 0 ? simdLoops(wasm) : null
    const sums =
      loops === null ? channelSums(heapF32(wasm, x), channels) : blockedChannelSums(loops, wasm, rows, channels, offsetOf(wasm, x))[0]
    const outV = heapF32(wasm, out)
    for (let c = 0; c < channels; c++) outV[c] = divide ? (sums[c] as number) / rows : (sums[c] as number)
    return out
  })
}

/** Mean over every axis but the last (batch-norm statistics). */
export const makeMean = (): KernelConfig => leadingReduction(Mean, true)
/** Sum over every axis but the last (bias and batch-norm gradients). */
export const makeSum = (): KernelConfig => leadingReduction(Sum, false)

/** Concatenation along the last axis of float32 tensors. */
export function makeConcat(): KernelConfig {
  return config(Concat, ({ inputs, backend, attrs }) => {
    const parts = Object.values(inputs) as TensorInfo[]
    const first = parts[0]
    if (first === undefined || parts.some((t) => t.dtype !== 'float32' || t.shape.length !== first.shape.length)) return null
    const rank = first.shape.length
    const axis = util.parseAxisParam(attrs.axis as number, first.shape)[0]
    if (axis !== rank - 1 || rank < 2) return null
    const rows = util.sizeFromShape(first.shape.slice(0, -1))
    if (parts.some((t) => util.sizeFromShape(t.shape.slice(0, -1)) !== rows)) return null
    const widths = parts.map((t) => t.shape[rank - 1] as number)
    const total = widths.reduce((a, b) => a + b, 0)
    const wasm = backend as WasmBackendLike
    const out = wasm.makeOutput([...first.shape.slice(0, -1), total], 'float32')
    const loops = widths.every((w) => w % 4 === 0) ? simdLoops(wasm) : null
    if (loops !== null && parts.length === 2) {
      // One pass over the output's rows: each row is written whole while it is in cache.
      const [w0, w1] = widths as [number, number]
      const o = offsetOf(wasm, out)
      const args = [offsetOf(wasm, parts[0]!), w0 * 4, o, total * 4, w0 / 4, offsetOf(wasm, parts[1]!), w1 * 4, o + w0 * 4, total * 4, w1 / 4, rows]
      simdRows(wasm, loops, 'copyRows2', args, 10, [[0, w0 * 4], [2, total * 4], [5, w1 * 4], [7, total * 4]])
      return out
    }
    if (loops !== null) {
      let at = 0
      parts.forEach((t, k) => {
        const width = widths[k] as number
        const args = [offsetOf(wasm, t), width * 4, offsetOf(wasm, out) + at * 4, total * 4, rows, width / 4]
        simdRows(wasm, loops, 'copyRows', args, 4, [[0, width * 4], [2, total * 4]])
        at += width
      })
      return out
    }
    const outV = heapF32(wasm, out)
    let offset = 0
    parts.forEach((t, k) => {
      const src = heapF32(wasm, t)
      const width = widths[k] as number
      for (let r = 0, s = 0, d = offset; r < rows; r++, d += total) {
        for (let c = 0; c < width; c++, s++) outV[d + c] = src[s] as number
      }
      offset += width
    })
    return out
  })
}

/** Split along the last axis of a float32 tensor (the gradient of a channel concatenation). */
export function makeSplitV(): KernelConfig {
  return config(SplitV, ({ inputs, backend, attrs }) => {
    const x = inputs.x as TensorInfo
    const rank = x.shape.length
    if (x.dtype !== 'float32' || rank < 2) return null
    const axis = util.parseAxisParam(attrs.axis as number, x.shape)[0]
    if (axis !== rank - 1) return null
    const widths = backend_util.prepareSplitSize(x as never, attrs.numOrSizeSplits as number | number[], axis)
    const total = x.shape[rank - 1] as number
    const rows = util.sizeFromShape(x.shape) / total
    const wasm = backend as WasmBackendLike
    const outs = widths.map((w) => wasm.makeOutput([...x.shape.slice(0, -1), w], 'float32'))
    const loops = widths.every((w) => w % 4 === 0) ? simdLoops(wasm) : null
    if (loops !== null && outs.length === 2) {
      // One pass over the input's rows, each read once.
      const [w0, w1] = widths as [number, number]
      const xo = offsetOf(wasm, x)
      const args = [xo, total * 4, offsetOf(wasm, outs[0]!), w0 * 4, w0 / 4, xo + w0 * 4, total * 4, offsetOf(wasm, outs[1]!), w1 * 4, w1 / 4, rows]
      simdRows(wasm, loops, 'copyRows2', args, 10, [[0, total * 4], [2, w0 * 4], [5, total * 4], [7, w1 * 4]])
      return outs
    }
    if (loops !== null) {
      let at = 0
      outs.forEach((out, k) => {
        const width = widths[k] as number
        const args = [offsetOf(wasm, x) + at * 4, total * 4, offsetOf(wasm, out), width * 4, rows, width / 4]
        simdRows(wasm, loops, 'copyRows', args, 4, [[0, total * 4], [2, width * 4]])
        at += width
      })
      return outs
    }
    const src = heapF32(wasm, x)
    let offset = 0
    outs.forEach((out, k) => {
      const dst = heapF32(wasm, out)
      const width = widths[k] as number
      for (let r = 0, d = 0, s = offset; r < rows; r++, s += total) {
        for (let c = 0; c < width; c++, d++) dst[d] = src[s + c] as number
      }
      offset += width
    })
    return outs
  })
}

/**
 * Max-pool gradient: dy goes to the first maximum of each window in row-major order, the rule tfjs-core's
 * cpu backend uses (it matters after ReLU, where windows of zeros tie).
 */
export function makeMaxPoolGrad(): KernelConfig {
  return config(MaxPoolGrad, ({ inputs, backend, attrs }) => {
    const dy = inputs.dy as TensorInfo
    const input = inputs.input as TensorInfo
    if (input.dtype !== 'float32' || input.shape.length !== 4) return null
    const info = backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      attrs.filterSize as number | [number, number],
      attrs.strides as number | [number, number],
      1,
      attrs.pad as 'valid' | 'same' | number,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    )
    const wasm = backend as WasmBackendLike
    const dx = wasm.makeOutput(input.shape, 'float32')
    const { batchSize, inHeight, inWidth, inChannels: ch, outHeight, outWidth, strideHeight, strideWidth } = info
    // The U-Net's pooling: 2 × 2 windows that tile the input (stride 2, no padding on top or left).
    const tiles = info.effectiveFilterHeight === 2 && info.effectiveFilterWidth === 2 && strideHeight === 2 && strideWidth === 2
    const loops = tiles && ch % 4 === 0 && info.padInfo.top === 0 && info.padInfo.left === 0 && 2 * outHeight <= inHeight && 2 * outWidth <= inWidth
      ? simdLoops(wasm)
      : null
    if (loops !== null) {
      // Rows or columns no window covers (odd sizes) get no gradient.
      if (2 * outHeight !== inHeight || 2 * outWidth !== inWidth) heapF32(wasm, dx).fill(0)
      const at = (t: TensorInfo) => offsetOf(wasm, t)
      const [xBase, gBase, dxBase] = [at(input), at(dy), at(dx)]
      const rowBytes = inWidth * ch * 4
      const calls: number[][] = []
      for (let n = 0; n < batchSize; n++) {
        for (let p = 0; p < outHeight; p++) {
          const inRow = (n * inHeight + 2 * p) * rowBytes
          calls.push([xBase + inRow, gBase + (n * outHeight + p) * outWidth * ch * 4, dxBase + inRow, outWidth, ch / 4, rowBytes])
        }
      }
      simdParallel(wasm, loops, 'maxPool2x2Grad', calls)
      return dx
    }
    const x = heapF32(wasm, input)
    const g = heapF32(wasm, dy)
    const out = heapF32(wasm, dx)
    out.fill(0)
    const fh = info.effectiveFilterHeight
    const fw = info.effectiveFilterWidth
    const top = info.padInfo.top
    const left = info.padInfo.left
    const best = new Float32Array(ch)
    const where = new Int32Array(ch)
    for (let n = 0; n < batchSize; n++) {
      for (let p = 0; p < outHeight; p++) {
        const r0 = p * strideHeight - top
        for (let q = 0; q < outWidth; q++) {
          const c0 = q * strideWidth - left
          best.fill(-Infinity)
          where.fill(-1)
          for (let wr = Math.max(0, r0); wr < Math.min(inHeight, r0 + fh); wr++) {
            for (let wc = Math.max(0, c0); wc < Math.min(inWidth, c0 + fw); wc++) {
              const base = ((n * inHeight + wr) * inWidth + wc) * ch
              for (let c = 0; c < ch; c++) {
                const v = x[base + c] as number
                if (v > (best[c] as number)) {
                  best[c] = v
                  where[c] = base + c
                }
              }
            }
          }
          const gBase = ((n * outHeight + p) * outWidth + q) * ch
          for (let c = 0; c < ch; c++) {
            const at = where[c] as number
            if (at >= 0) out[at] = (out[at] as number) + (g[gBase + c] as number)
          }
        }
      }
    }
    return dx
  })
}

/**
 * `Add` of a per-channel bias ([C], or [1, …, 1, C]) to channels-last float32 data (the bias of a transposed
 * convolution): one SIMD pass of x · 1 + b[c] on the helper threads (x · 1 is exact, so the sums are tfjs's
 * own), where the stock kernel's general broadcast walks every element's index. Any other `Add` goes to it.
 */
export function makeChannelAdd(): KernelConfig {
  return config(Add, ({ inputs, backend }) => {
    const { a, b } = inputs as Record<string, TensorInfo | undefined>
    if (a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32') return null
    const perChannel = (x: TensorInfo, bias: TensorInfo) => {
      const channels = x.shape[x.shape.length - 1] as number
      return (
        x.shape.length >= 2 &&
        channels % 4 === 0 &&
        bias.shape.length <= x.shape.length &&
        bias.shape[bias.shape.length - 1] === channels &&
        bias.shape.slice(0, -1).every((d) => d === 1) &&
        util.sizeFromShape(x.shape) > channels
      )
    }
    const [x, bias] = perChannel(a, b) ? [a, b] : perChannel(b, a) ? [b, a] : [null, null]
    if (x === null || bias === null) return null
    const wasm = backend as WasmBackendLike
    if (simdLoops(wasm) === null) return null
    const channels = x.shape[x.shape.length - 1] as number
    const out = wasm.makeOutput(x.shape, 'float32')
    channelAffine(wasm, x, out, new Float32Array(channels).fill(1), Float32Array.from(heapF32(wasm, bias)))
    return out
  })
}

/**
 * Batch norm (inference form, and the training form once tfjs-layers has the batch moments) for per-channel
 * statistics: one pass of x · k[c] + b[c] with k = scale / sqrt(variance + ε), b = offset − mean · k.
 */
export function makeFusedBatchNorm(): KernelConfig {
  return config(FusedBatchNorm, ({ inputs, backend, attrs }) => {
    const { x, mean, variance, offset, scale } = inputs as Record<string, TensorInfo | undefined>
    if (x === undefined || mean === undefined || variance === undefined || x.dtype !== 'float32') return null
    const channels = x.shape[x.shape.length - 1] as number
    const perChannel = [mean, variance, offset, scale].every((t) => t === undefined || (t.shape.length === 1 && t.shape[0] === channels))
    if (!perChannel || x.shape.length < 2) return null
    const wasm = backend as WasmBackendLike
    const out = wasm.makeOutput(x.shape, 'float32')
    const epsilon = attrs.varianceEpsilon as number
    const m = heapF32(wasm, mean)
    const v = heapF32(wasm, variance)
    const o = offset === undefined ? null : heapF32(wasm, offset)
    const s = scale === undefined ? null : heapF32(wasm, scale)
    const k = new Float32Array(channels)
    const b = new Float32Array(channels)
    for (let c = 0; c < channels; c++) {
      k[c] = (s === null ? 1 : (s[c] as number)) / Math.sqrt((v[c] as number) + epsilon)
      b[c] = (o === null ? 0 : (o[c] as number)) - (m[c] as number) * (k[c] as number)
    }
    channelAffine(wasm, x, out, k, b)
    return out
  })
}

