import { initBackend, registerWasmTrainingKernels } from '@unet/runtime'
import { TrainerError } from './errors'
import type { TrainConfig } from './config'

/**
 * Starts the tfjs backend a run asked for (via @unet/runtime) and, on wasm,
 * registers the kernels training needs.
 *
 * @param config - backend and threads
 * @returns the backend's name
 * @example
 * ```ts
 * const name = await startBackend({ backend: 'cpu', threads: 0 })
 * ```
 */
export async function startBackend(config: Pick<TrainConfig, 'backend' | 'threads'>): Promise<string> {
  try {
    const result = await initBackend({ backend: config.backend, ...(config.threads > 0 ? { threads: config.threads } : {}) })
    if (result.backend === 'wasm') registerWasmTrainingKernels()
    return result.backend
  } catch (cause) {
    throw new TrainerError('BACKEND', `cannot start the ${config.backend} backend: ${(cause as Error).message}; try --backend cpu`, { cause })
  }
}
