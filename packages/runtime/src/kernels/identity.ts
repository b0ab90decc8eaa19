import { Identity, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core'

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
