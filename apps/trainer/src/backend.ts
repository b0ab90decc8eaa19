import { initBackend } from '@unet/runtime'
import { TrainerError } from './errors'
import type { TrainConfig } from './config'

/**
 * Starts the tfjs backend a run asked for (via @unet/runtime, which on wasm registers the kernels training
 * needs and, where `@unet/runtime-native` was built, oneDNN's convolutions over them).
 *
 * @param config - backend and threads
 * @returns the backend's name, with `+ oneDNN` when the native convolutions are on
 * @example
 * ```ts
 * const name = await startBackend({ backend: 'cpu', threads: 0 })
 * ```
 */
export async function startBackend(config: Pick<TrainConfig, 'backend' | 'threads'>): Promise<string> {
  try {
    const result = await initBackend({ backend: config.backend, ...(config.threads > 0 ? { threads: config.threads } : {}) })
    return result.native === true ? `${result.backend} + oneDNN` : result.backend
  } catch (cause) {
    throw new TrainerError('BACKEND', `cannot start the ${config.backend} backend: ${(cause as Error).message}; try --backend cpu`, { cause })
  }
}
