/**
 * The oneDNN addon as the bench scripts use it: geometry in the addon's order, and (for step.ts) the three
 * convolution kernels registered on tfjs-backend-wasm so that they run in place on the wasm heap.
 * Bench-only: nothing in packages/ imports this.
 */
import { createRequire } from 'node:module'

// tfjs resolves from tools/bench (this folder is no workspace package and has no node_modules).
export const requireFromBench = createRequire(new URL('../bench/unet-step.ts', import.meta.url))
type Tf = typeof import('@tensorflow/tfjs-core')
const tf = requireFromBench('@tensorflow/tfjs-core') as Tf

export interface Addon {
  /** op 0: y = conv(x, w); 1: dx from (dy, w); 2: dw from (x, dy). Buffers NHWC / HWIO float32. */
  conv(op: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, geometry: number[]): void
  implementation(op: 0 | 1 | 2, geometry: number[]): string
  setThreads(n: number): void
}

export const addon = createRequire(import.meta.url)('./build/Release/dnnl_conv.node') as Addon

/** [N, H, W, IC, OH, OW, OC, KH, KW, sh, sw, padTop, padLeft, padBottom, padRight] of the forward conv. */
export function geometry(
  xShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  pad: unknown,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): number[] {
  const c = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad as 'same',
    dimRoundingMode,
    false,
    'channelsLast',
  )
  const p = c.padInfo
  return [c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.outHeight, c.outWidth, c.outChannels, c.filterHeight, c.filterWidth,
    c.strideHeight, c.strideWidth, p.top, p.left, p.bottom, p.right]
}

interface WasmBackend {
  wasm: { HEAPU8: Uint8Array }
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined }
  makeOutput(shape: number[], dtype: 'float32'): import('@tensorflow/tfjs-core').TensorInfo
}
type Info = import('@tensorflow/tfjs-core').TensorInfo

function view(b: WasmBackend, t: Info): Float32Array {
  const off = b.dataIdMap.get(t.dataId)!.memoryOffset
  return new Float32Array(b.wasm.HEAPU8.buffer, off, t.shape.reduce((a, c) => a * c, 1))
}

/**
 * Replaces Conv2D, FusedConv2D (no bias, linear), Conv2DBackpropInput and Conv2DBackpropFilter on the wasm
 * backend with the addon, reading and writing the wasm heap in place. Anything else (NCHW, dilation, bias,
 * activation) goes to the kernel that was there before.
 */
export function registerNativeConvKernels(): string[] {
  const names = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']
  for (const name of names) {
    const prev = tf.getKernel(name, 'wasm')
    if (prev === undefined) throw new Error(`${name} is not registered on wasm; import the backend and @unet/runtime's kernels first`)
    let prevReady = false
    const fallback = (args: never) => {
      if (!prevReady) prev.setupFunc?.((args as { backend: never }).backend)
      prevReady = true
      return prev.kernelFunc(args)
    }
    const kernelFunc = (args: { inputs: Record<string, Info>; backend: unknown; attrs: Record<string, unknown> }) => {
      const b = args.backend as WasmBackend
      const a = args.attrs
      const dil = a.dilations as number | number[] | undefined
      const dilated = dil !== undefined && (Array.isArray(dil) ? dil.some((d) => d !== 1) : dil !== 1)
      if (a.dataFormat === 'NCHW' || dilated) return fallback(args as never)
      if (name === 'Conv2D' || name === 'FusedConv2D') {
        if (name === 'FusedConv2D' && (args.inputs.bias != null || (a.activation ?? 'linear') !== 'linear')) return fallback(args as never)
        const { x, filter } = args.inputs as { x: Info; filter: Info }
        const g = geometry(x.shape, filter.shape, a.strides as [number, number], a.pad, a.dimRoundingMode as undefined)
        const y = b.makeOutput([g[0]!, g[4]!, g[5]!, g[6]!], 'float32')
        addon.conv(0, view(b, x), view(b, filter), view(b, y), g)
        return y
      }
      if (name === 'Conv2DBackpropInput') {
        const { dy, filter } = args.inputs as { dy: Info; filter: Info }
        const g = geometry(a.inputShape as number[], filter.shape, a.strides as [number, number], a.pad, a.dimRoundingMode as undefined)
        const dx = b.makeOutput([g[0]!, g[1]!, g[2]!, g[3]!], 'float32')
        addon.conv(1, view(b, dy), view(b, filter), view(b, dx), g)
        return dx
      }
      const { x, dy } = args.inputs as { x: Info; dy: Info }
      const fs = a.filterShape as number[]
      const g = geometry(x.shape, fs, a.strides as [number, number], a.pad, a.dimRoundingMode as undefined)
      const dw = b.makeOutput([...fs], 'float32')
      addon.conv(2, view(b, x), view(b, dy), view(b, dw), g)
      return dw
    }
    tf.unregisterKernel(name, 'wasm')
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc as never })
  }
  return names
}
