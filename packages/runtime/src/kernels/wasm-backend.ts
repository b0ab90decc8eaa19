import { getKernel, type DataType, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core'

import { WasmKernelError } from './errors'

/**
 * The parts of tfjs-backend-wasm's `BackendWasm` our kernels reach into. The wasm package does not export
 * these types, so they are restated here; they have been stable since tfjs 3.
 */
export interface WasmModuleLike {
  HEAPU8: Uint8Array
  _malloc(bytes: number): number
  _free(pointer: number): void
}

/** One tensor's record in the wasm backend's data map. */
export interface WasmTensorData {
  id: number
  memoryOffset: number
  shape: number[]
  dtype: DataType
}

/** The wasm backend as a kernel function sees it. */
export interface WasmBackendLike {
  wasm: WasmModuleLike
  dataIdMap: { get(dataId: object): WasmTensorData | undefined }
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo
  disposeData(dataId: object, force?: boolean): boolean
}

/**
 * Runs a kernel registered for the wasm backend, by name, from inside another kernel. Calling the kernel
 * function directly (rather than through a tf op) keeps the intermediate off the gradient tape and out of
 * the engine's bookkeeping; the caller disposes it with {@link disposeInfo}.
 */
export function runWasmKernel(
  name: string,
  backend: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const config = getKernel(name, 'wasm')
  if (config === undefined) {
    throw new WasmKernelError('KERNEL_UNSUPPORTED', `Kernel '${name}' is not registered for the wasm backend; import '@tensorflow/tfjs-backend-wasm' first.`)
  }
  return config.kernelFunc({ inputs, backend: backend as never, attrs }) as TensorInfo
}

/** Frees an intermediate produced inside a kernel. */
export function disposeInfo(backend: WasmBackendLike, info: TensorInfo): void {
  backend.disposeData(info.dataId, true)
}

/**
 * Allocates a kernel's float32 outputs, lets `fill` write them, and frees them all if it throws.
 *
 * @param backend - the wasm backend
 * @param shapes - one shape per output
 * @param fill - writes the outputs (take heap views inside it, after the allocations)
 * @returns the outputs, in the order of `shapes`
 */
export function withOutputs(backend: WasmBackendLike, shapes: number[][], fill: (outs: TensorInfo[]) => void): TensorInfo[] {
  const outs = shapes.map((shape) => backend.makeOutput(shape, 'float32'))
  try {
    fill(outs)
  } catch (error) {
    for (const o of outs) disposeInfo(backend, o)
    throw error
  }
  return outs
}

/** A tensor's byte offset in the wasm heap (its memory, for loops that take pointers). */
export function offsetOf(backend: WasmBackendLike, info: TensorInfo): number {
  return (backend.dataIdMap.get(info.dataId) as { memoryOffset: number }).memoryOffset
}

/**
 * A Float32Array over a tensor's bytes in the wasm heap. Views die when the heap grows (any allocation
 * may grow it), so take them after the last allocation and do not keep them.
 */
export function heapF32(backend: WasmBackendLike, info: TensorInfo): Float32Array {
  const data = backend.dataIdMap.get(info.dataId)
  if (data === undefined) throw new WasmKernelError('KERNEL_UNSUPPORTED', 'A wasm training kernel got a tensor that is not on the wasm backend; run it with tf.setBackend(\'wasm\').')
  const size = info.shape.reduce((a, b) => a * b, 1)
  return new Float32Array(backend.wasm.HEAPU8.buffer, data.memoryOffset, size)
}

interface WasmBackendInternals extends WasmBackendLike {
  dataIdMap: WasmBackendLike['dataIdMap'] & { delete(dataId: object): boolean }
  dataIdNextNumber: number
  wasm: WasmModuleLike & { tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void } }
}

/**
 * A float32 tensor record over existing heap memory (a window into another tensor), for passing to a
 * kernel. Free it with {@link disposeAlias}, never with `disposeData`, which would free the memory.
 */
export function aliasInfo(backend: WasmBackendLike, memoryOffset: number, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, 'float32', memoryOffset)
}

/** Forgets an {@link aliasInfo} record without freeing the memory it points into. */
export function disposeAlias(backend: WasmBackendLike, info: TensorInfo): void {
  const internals = backend as WasmBackendInternals
  const data = internals.dataIdMap.get(info.dataId)
  if (data === undefined) return
  internals.wasm.tfjs.disposeData(data.id)
  internals.dataIdMap.delete(info.dataId)
}

/**
 * The kernel registered for `name` on wasm before ours replaces it, as a function that runs its setup
 * first (the backend may have started after ours was registered, so the stock setup never ran).
 */
export function stockKernel(name: string): ((args: unknown) => TensorInfo | TensorInfo[]) | undefined {
  const config = getKernel(name, 'wasm')
  if (config === undefined) return undefined
  let ready = new WeakSet<object>()
  return (args: unknown) => {
    const backend = (args as { backend: object }).backend
    if (!ready.has(backend)) {
      config.setupFunc?.(backend as never)
      ready = ready.add(backend)
    }
    return config.kernelFunc(args as never) as TensorInfo | TensorInfo[]
  }
}

/** The arguments every kernel function receives. */
export interface KernelArgs {
  inputs: Record<string, TensorInfo>
  backend: unknown
  attrs: Record<string, unknown>
}
