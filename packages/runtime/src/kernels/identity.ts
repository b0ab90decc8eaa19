import { Cast, Identity, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core'

import { WasmKernelError } from './errors'
import type { WasmBackendLike } from './wasm-backend'

/**
 * `Identity` that shares the input's buffer instead of copying it, as the cpu backend's does. The gradient
 * tape and tfjs-layers call it hundreds of times per training step.
 */
export function makeIdentity(stock: KernelConfig | undefined): KernelConfig {
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: Record<string, unknown> }): TensorInfo => {
    const x = args.inputs.x as TensorInfo
    const backend = args.backend as WasmBackendLike & { incRef(dataId: object): void }
    if (x.dtype === 'string' && stock !== undefined) return stock.kernelFunc(args as never) as TensorInfo
    backend.incRef(x.dataId)
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype }
  }
  return { kernelName: Identity, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc }
}

/**
 * `Cast` to the dtype the tensor already has shares its buffer, as `Identity` does (tfjs-core's `moments`
 * casts float32 activations to float32 in every batch norm, and tfjs-backend-wasm copies them); any real
 * conversion goes to the stock kernel.
 */
export function makeCast(stock: KernelConfig | undefined): KernelConfig {
  const identity = makeIdentity(undefined)
  const kernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs: Record<string, unknown> }): TensorInfo => {
    const x = args.inputs.x as TensorInfo
    if (x.dtype === args.attrs.dtype && x.dtype !== 'string') return identity.kernelFunc(args as never) as TensorInfo
    if (stock === undefined) {
      throw new WasmKernelError('KERNEL_UNSUPPORTED', `Cast from ${x.dtype} to ${String(args.attrs.dtype)}: no wasm Cast kernel; import '@tensorflow/tfjs-backend-wasm' first.`)
    }
    return stock.kernelFunc(args as never) as TensorInfo
  }
  return { kernelName: Cast, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc }
}
