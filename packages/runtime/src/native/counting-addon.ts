// For the native kernel tests (not part of the package's entry): the built addon, a copy of it that counts calls,
// and a backend environment that hands out that copy.
import { loadNativeConv, nativeConvReason, type NativeConv } from '@unet/runtime-native'

import type { BackendEnvironment } from '../backend'

/** What {@link countingAddon} gives a test file. */
export interface CountingAddon<M extends keyof NativeConv> {
  /** The built addon, or null when it is absent or predates one of the methods (the tests then skip). */
  readonly addon: NativeConv | null
  /** Calls of each counted method through {@link counting}, for a test to reset and read. */
  readonly calls: Record<M, number>
  /** The addon's convolutions plus the counted methods only (so only those native kernels register), or null. */
  readonly counting: NativeConv | null
  /** An environment whose `@unet/runtime-native` returns {@link counting}, for `startBackend`. */
  readonly environment: BackendEnvironment
}

/**
 * The addon for a native kernel test file: with the methods it tests counted, proving the kernels ran natively.
 *
 * @param suite - the tests' name, for the line that says why they skip
 * @param methods - the addon methods the file tests
 * @returns the addon, the counting copy, the counts and a backend environment
 * @example
 * ```ts
 * const { addon, calls, counting, environment } = countingAddon('native ReLU', ['relu', 'reluGrad'])
 * ```
 */
export function countingAddon<M extends keyof NativeConv>(suite: string, methods: readonly M[]): CountingAddon<M> {
  const loaded = loadNativeConv()
  const missing = loaded === null ? undefined : methods.find((m) => typeof loaded[m] !== 'function')
  const addon = loaded !== null && missing === undefined ? loaded : null
  if (addon === null) console.warn(`[@unet/runtime ${suite} tests] skipped: ${loaded === null ? nativeConvReason() : `the addon predates ${String(missing)} (rebuild it)`}`)
  const calls = Object.fromEntries(methods.map((m) => [m, 0])) as Record<M, number>
  let counting: NativeConv | null = null
  if (addon !== null) {
    const copy: Record<string, unknown> = { conv: addon.conv.bind(addon), setThreads: (n: number) => addon.setThreads(n), threads: () => addon.threads() }
    for (const m of methods) {
      const method = addon[m] as unknown as (...args: unknown[]) => unknown
      copy[m] = (...args: unknown[]) => {
        calls[m]++
        return method.apply(addon, args)
      }
    }
    counting = copy as unknown as NativeConv
  }
  const environment: BackendEnvironment = {
    env: {},
    cores: 2,
    load: 0,
    importModule: async (name: string) => {
      if (name === '@unet/runtime-native') return { loadNativeConv: () => counting, nativeConvReason }
      throw Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' })
    },
  }
  return { addon, calls, counting, environment }
}
