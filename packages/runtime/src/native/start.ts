import { NATIVE_CONV_KERNELS, registerNativeConvKernels, type NativeConvAddon } from './native-conv-kernels'

/** The optional package that holds the oneDNN addon. */
export const NATIVE_PACKAGE = '@unet/runtime-native'

/** What {@link startNativeConv} did: `kernels` registered and a `note` for initBackend's reason. */
export interface NativeStart {
  kernels: string[]
  /** Threads oneDNN runs on (0 when not started). */
  threads: number
  note: string
}

interface NativeModule {
  loadNativeConv(): NativeConvAddon | null
  nativeConvReason?(): string
}

/**
 * Loads `@unet/runtime-native` and, when its addon is built, registers its conv kernels on wasm. Never
 * throws: a missing package, an unbuilt addon or a failing one come back as a note, and wasm's own kernels
 * stay in place.
 *
 * @param importModule - imports a package by name (initBackend's environment; tests inject failures)
 * @param env - environment variables (`OMP_NUM_THREADS` set means oneDNN's thread count is left alone)
 * @param threads - threads for oneDNN when `OMP_NUM_THREADS` is not set (initBackend passes wasm's count)
 * @returns the kernels registered (none on failure) and a note saying what happened
 */
export async function startNativeConv(
  importModule: (name: string) => Promise<unknown>,
  env: Record<string, string | undefined>,
  threads: number,
): Promise<NativeStart> {
  let mod: NativeModule
  try {
    mod = (await importModule(NATIVE_PACKAGE)) as NativeModule
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown }
    const message = typeof e?.message === 'string' ? e.message : String(error)
    const missing = e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(message)
    return { kernels: [], threads: 0, note: `no native conv kernels (${NATIVE_PACKAGE} ${missing ? 'is not installed' : `failed to load: ${message.split('\n')[0]}`})` }
  }
  try {
    const addon = typeof mod.loadNativeConv === 'function' ? mod.loadNativeConv() : null
    if (addon === null) {
      const why = typeof mod.nativeConvReason === 'function' ? mod.nativeConvReason() : 'its addon did not load'
      return { kernels: [], threads: 0, note: `no native conv kernels (${why})` }
    }
    let threadNote: string
    const omp = env.OMP_NUM_THREADS?.trim()
    if (omp) {
      threadNote = `OMP_NUM_THREADS=${omp}`
    } else {
      addon.setThreads?.(threads)
      threadNote = 'as many as wasm'
    }
    const actual = addon.threads?.() ?? threads
    const kernels = registerNativeConvKernels(addon)
    const conv = kernels.filter((k) => (NATIVE_CONV_KERNELS as readonly string[]).includes(k))
    const others = kernels.filter((k) => !conv.includes(k))
    const more = others.length > 0 ? ` and batch norm, ReLU and per-channel kernels (${others.join(', ')})` : ''
    return { kernels, threads: actual, note: `+ oneDNN native conv kernels (${conv.join(', ')})${more} on ${actual} thread${actual === 1 ? '' : 's'} (${threadNote})` }
  } catch (error) {
    return { kernels: [], threads: 0, note: `no native conv kernels (${NATIVE_PACKAGE} failed: ${String((error as Error)?.message ?? error).split('\n')[0]})` }
  }
}
