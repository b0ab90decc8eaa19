import { Conv2D, type Conv2DAttrs, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core'

import { convGeometry } from './conv-geometry'
import { WasmKernelError } from './errors'
import { gemmCalls, gemmLoops, gemmThreads, runGemm } from './gemm'
import { offsetOf, stockKernel, type KernelArgs, type WasmBackendLike } from './wasm-backend'


/**
 * `Conv2D` on wasm: a 1 × 1, stride-1, unpadded convolution (channels-last, float32, output channels divisible
 * by 4) is one product [N·H·W, C_in] · [C_in, C_out] — the filter [1, 1, C_in, C_out] is that matrix as it
 * lies — through `gemm.ts`, split by rows over the helper threads. The sub-pixel phases of a 2 × 2, stride-2
 * transposed convolution (`Conv2DBackpropInput`) are such convolutions, where XNNPACK reached about half our
 * GEMM's speed. Everything else goes to the stock kernel.
 */
export function makePointwiseConv2D(): KernelConfig {
  const stock = stockKernel(Conv2D)
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const backend = args.backend as WasmBackendLike
    const { x, filter } = args.inputs as Record<string, TensorInfo | undefined>
    const attrs = args.attrs as unknown as Conv2DAttrs
    const gemm = x !== undefined && filter !== undefined && pointwiseCase(x, filter, attrs) ? gemmLoops(backend) : null
    if (gemm === null) {
      if (stock === undefined) {
        throw new WasmKernelError('KERNEL_UNSUPPORTED', 'Conv2D on wasm: the stock tfjs-backend-wasm kernel is not registered; import @tensorflow/tfjs-backend-wasm before registering the training kernels.')
      }
      return stock(args) as TensorInfo
    }
    const [n, h, w, ci] = x!.shape as [number, number, number, number]
    const co = filter!.shape[3] as number
    const out = backend.makeOutput([n, h, w, co], 'float32')
    const threads = gemmThreads(backend)
    const job = { a: offsetOf(backend, x!), lda: ci * 4, b: offsetOf(backend, filter!), ldb: co * 4, c: offsetOf(backend, out), ldc: co * 4, m: n * h * w, n: co, k: ci }
    runGemm(backend, gemm, gemmCalls(false, [job], threads === 1 ? 1 : 4 * threads))
    return out
  }
  return { kernelName: Conv2D, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc }
}

function pointwiseCase(x: TensorInfo, filter: TensorInfo, attrs: Conv2DAttrs): boolean {
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4) return false
  if (attrs.dataFormat === 'NCHW') return false
  const dil = attrs.dilations ?? 1
  if ((typeof dil === 'number' ? dil : Math.max(dil[0], dil[1])) !== 1) return false
  const [kh, kw, , co] = filter.shape as [number, number, number, number]
  if (kh !== 1 || kw !== 1 || co % 4 !== 0) return false
  const g = convGeometry(x.shape, filter.shape, attrs.strides, attrs.pad, attrs.dimRoundingMode)
  return g.strideHeight === 1 && g.strideWidth === 1 && g.padTop === 0 && g.padLeft === 0 && g.outHeight === g.inHeight && g.outWidth === g.inWidth
}
