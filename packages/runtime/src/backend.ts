import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as wasm from '@tensorflow/tfjs-backend-wasm'
import { availableParallelism, loadavg } from 'node:os'

import { BackendError } from './errors'
import { registerWasmTrainingKernels } from './kernels/index'
import { unregisterNativeConvKernels } from './native/native-conv-kernels'
import { startNativeConv } from './native/start'
import { isNode, MAX_WASM_THREADS, withNodeWasmThreads } from './wasm-threads'

/** Backends {@link initBackend} can be asked for; `'tensorflow'` means tfjs-node-gpu or tfjs-node. */
export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu'

/** The valid values of `backend` and of `UNET_BACKEND`. */
export const backendRequests: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu']

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * Which backend to start. `'auto'` (the default) takes the fastest one present, in the order tfjs-node-gpu →
   * tfjs-node → wasm → cpu; the environment variable `UNET_BACKEND` overrides `'auto'` (not an explicit choice).
   */
  backend?: BackendRequest
  /**
   * Threads for the wasm backend (default: `UNET_WASM_THREADS`, else the idle cores — see {@link idleCores}).
   * Fixed once wasm has started in a process.
   */
  threads?: number
  /**
   * On wasm, replace the convolution kernels with oneDNN's from the optional package `@unet/runtime-native`
   * when it is installed and its addon built (default `true`; `false`, or the environment variable
   * `UNET_NATIVE=0`, keeps wasm's own). Absent or broken, it is skipped and `reason` says why.
   */
  native?: boolean
}

/** What {@link initBackend} started, and why. */
export interface BackendInfo {
  /** The tfjs backend now active: `'tensorflow'`, `'wasm'` or `'cpu'`. */
  backend: string
  /** One line saying why this backend was chosen, and what was tried before it. */
  reason: string
  /** Threads the backend computes on (wasm: its thread pool; cpu: 1; tensorflow: its own pool, reported as 0). */
  threads: number
  /** Training kernels @unet/runtime registered for this backend (wasm only), native ones included. */
  kernels: string[]
  /** Whether oneDNN's conv kernels from `@unet/runtime-native` run the convolutions (wasm only). */
  native: boolean
}

/** What initBackend needs from the outside world; tests substitute it. */
export interface BackendEnvironment {
  /** Imports an optional package by name (rejects when it is not installed). */
  importModule(name: string): Promise<unknown>
  /** Environment variables (reads `UNET_BACKEND`, `UNET_WASM_THREADS`, `UNET_NATIVE`, `OMP_NUM_THREADS`). */
  env: Record<string, string | undefined>
  /** Cores available to this process. */
  cores: number
  /** The machine's load average over the last minute (0 where the OS has none, as on Windows). */
  load: number
}

const NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const

const defaultEnvironment: BackendEnvironment = {
  // A variable specifier keeps bundlers and tsc from insisting that the optional peers exist.
  importModule: (name: string) => import(/* @vite-ignore */ name),
  env: typeof process === 'object' ? process.env : {},
  cores: availableParallelism(),
  get load() {
    return loadavg()[0] ?? 0
  },
}

/**
 * Starts the fastest TensorFlow.js backend present and makes it the active one: tfjs-node-gpu, then
 * tfjs-node, then wasm (threaded SIMD build, with @unet/runtime's training kernels registered, and oneDNN's
 * conv kernels from the optional package `@unet/runtime-native` when it is installed and built), then the
 * pure-JS cpu backend. An optional backend that is absent is skipped, never an error, unless asked for by
 * name. `UNET_BACKEND=tensorflow|wasm|cpu|auto` overrides `'auto'`.
 *
 * @param options - `backend` to force one, `threads` for wasm, `native: false` to keep wasm's conv kernels
 * @returns the backend started, why, its thread count and the kernels registered
 * @throws {BackendError} when a backend asked for by name (or by `UNET_BACKEND`) is unknown, absent or fails
 * @example
 * ```ts
 * import { initBackend } from '@unet/runtime'
 *
 * const { backend, reason } = await initBackend()
 * console.log(backend, reason) // 'wasm', 'wasm: @tensorflow/tfjs-node-gpu is not installed, ...'
 * ```
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  return startBackend(options, defaultEnvironment)
}

/**
 * The cores not already kept busy by other work: `cores − load` rounded, at least 1. XNNPACK's threads meet
 * at a barrier after every op, so one that the OS has descheduled stalls the others: on a machine whose cores
 * are all busy, two threads ran a U-Net step slower than one.
 *
 * @param cores - cores available to the process
 * @param load - the one-minute load average
 * @returns the default wasm thread count
 * @example
 * ```ts
 * idleCores(8, 0.3) // 8
 * idleCores(2, 5.2) // 1
 * ```
 */
export function idleCores(cores: number, load: number): number {
  return Math.max(1, Math.min(cores, Math.round(cores - Math.max(0, load))))
}

function describeFailure(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(error)
  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(message)) {
    return 'is not installed'
  }
  return `failed to load (${message.split('\n')[0]})`
}

interface Attempt {
  info?: BackendInfo
  failure?: string
  error?: unknown
}

async function tryNode(pkg: string, environment: BackendEnvironment): Promise<Attempt> {
  try {
    await environment.importModule(pkg)
  } catch (error) {
    return { failure: `${pkg} ${describeFailure(error)}`, error }
  }
  // tfjs-node registers 'tensorflow' with the tfjs-core it depends on; if that is a second copy, ours never sees it.
  if (tf.findBackendFactory('tensorflow') == null) {
    return {
      failure:
        `${pkg} loaded but registered no 'tensorflow' backend with this process's @tensorflow/tfjs-core ` +
        `(two copies of tfjs-core? align their versions to ${tf.version_core})`,
    }
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) return { failure: `${pkg} failed to start its backend` }
  } catch (error) {
    return { failure: `${pkg} failed to start (${(error as Error).message})`, error }
  }
  return { info: { backend: 'tensorflow', reason: `tensorflow via ${pkg}`, threads: 0, kernels: [], native: false } }
}

/** tfjs-core's engine keeps started backends here; `tf.findBackend` would start one as a side effect. */
function isStarted(name: string): boolean {
  const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry
  return registry[name] != null
}

interface NativeRequest {
  /** true to try @unet/runtime-native; else why not (option native: false or UNET_NATIVE=0). */
  wanted: true | string
  environment: BackendEnvironment
}

async function tryWasm(threads: number, threadSource: string, native: NativeRequest): Promise<Attempt> {
  let note = ''
  try {
    if (isStarted('wasm')) {
      if (!(await tf.setBackend('wasm'))) return { failure: 'wasm failed to start' }
      const actual = wasm.getThreadsCount()
      if (actual !== threads) note = `; wasm was already started in this process with ${actual} thread(s), which stays fixed`
    } else {
      const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean
      const wanted = Math.min(threads, MAX_WASM_THREADS)
      let started = false
      if (isNode() && simd && wanted > 1) {
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)
        wasm.setThreadsCount(wanted)
        try {
          started = await withNodeWasmThreads(wanted, () => tf.setBackend('wasm'))
        } catch (error) {
          note = `; the threaded build did not start (${(error as Error).message}), so 1 thread`
        }
        if (!started) {
          note ||= '; the threaded build did not start, so 1 thread'
          tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
        }
      }
      if (!started) {
        wasm.setThreadsCount(wanted)
        started = await tf.setBackend('wasm')
      }
      if (!started) return { failure: 'wasm failed to start (see the warning above)' }
    }
  } catch (error) {
    return { failure: `wasm failed to start (${(error as Error).message})`, error }
  }
  const kernels = registerWasmTrainingKernels()
  const actual = wasm.getThreadsCount()
  // After the training kernels, so that oneDNN's replace theirs for the conv ops (and fall back to them).
  const nativeStart =
    native.wanted === true
      ? await startNativeConv(native.environment.importModule, native.environment.env, actual)
      : (unregisterNativeConvKernels(), { kernels: [], threads: 0, note: `no native conv kernels (${native.wanted})` })
  const all = [...kernels, ...nativeStart.kernels.filter((k) => !kernels.includes(k))]
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean
  const detail = `WebAssembly${simd ? ' + SIMD' : ''} on ${actual} thread${actual === 1 ? '' : 's'} (${threadSource})${note}; training kernels ${
    kernels.length > 0 ? kernels.join(', ') : '(none)'
  } ${nativeStart.note}`
  return { info: { backend: 'wasm', reason: detail, threads: actual, kernels: all, native: nativeStart.kernels.length > 0 } }
}

async function tryCpu(): Promise<Attempt> {
  try {
    if (!(await tf.setBackend('cpu'))) return { failure: 'cpu failed to start' }
  } catch (error) {
    return { failure: `cpu failed to start (${(error as Error).message})`, error }
  }
  return { info: { backend: 'cpu', reason: 'pure-JavaScript cpu backend (slow for training)', threads: 1, kernels: [], native: false } }
}

function parseRequest(value: string, source: string): BackendRequest {
  const normal = value.trim().toLowerCase()
  if ((backendRequests as readonly string[]).includes(normal)) return normal as BackendRequest
  throw new BackendError(
    'BACKEND_UNKNOWN',
    `Unknown backend '${value}' in ${source}; use one of ${backendRequests.map((b) => `'${b}'`).join(', ')}.`,
  )
}

/**
 * {@link initBackend} with its outside world passed in (tests use this to fake installed packages).
 *
 * @param options - as for initBackend
 * @param environment - how to import optional packages, the environment variables, the core count
 * @returns as for initBackend
 */
export async function startBackend(options: InitBackendOptions, environment: BackendEnvironment): Promise<BackendInfo> {
  let request: BackendRequest = parseRequest(options.backend ?? 'auto', "initBackend's backend option")
  let source = request === 'auto' ? 'auto' : `requested by option backend: '${request}'`
  const fromEnv = environment.env.UNET_BACKEND
  if (request === 'auto' && fromEnv !== undefined && fromEnv.trim() !== '') {
    request = parseRequest(fromEnv, `the environment variable UNET_BACKEND`)
    source = request === 'auto' ? 'auto' : `requested by UNET_BACKEND=${fromEnv}`
  }
  const threadsFromEnv = environment.env.UNET_WASM_THREADS?.trim()
  const threads = options.threads ?? (threadsFromEnv ? Number(threadsFromEnv) : idleCores(environment.cores, environment.load))
  const threadSource =
    options.threads !== undefined
      ? 'as asked'
      : threadsFromEnv
        ? `UNET_WASM_THREADS=${threadsFromEnv}`
        : `${environment.cores} core${environment.cores === 1 ? '' : 's'}, load ${environment.load.toFixed(1)}`
  if (!Number.isInteger(threads) || threads < 1) {
    const given = options.threads !== undefined ? `option threads: ${options.threads}` : `UNET_WASM_THREADS=${threadsFromEnv}`
    throw new BackendError('BACKEND_OPTIONS_INVALID', `initBackend: threads must be a whole number ≥ 1, got ${given}.`)
  }

  const failures: string[] = []
  const errors: unknown[] = []
  const finish = (attempt: Attempt): BackendInfo | undefined => {
    if (attempt.info) {
      const skipped = failures.length > 0 ? ` (${failures.join(', ')})` : ''
      const why = `${source === 'auto' ? 'fastest present' : source}${skipped}`
      return { ...attempt.info, reason: `${attempt.info.backend}: ${why}; ${attempt.info.reason}` }
    }
    if (attempt.failure) failures.push(attempt.failure)
    if (attempt.error !== undefined) errors.push(attempt.error)
    return undefined
  }

  if (request === 'auto' || request === 'tensorflow') {
    for (const pkg of NODE_PACKAGES) {
      const info = finish(await tryNode(pkg, environment))
      if (info) return info
    }
    if (request === 'tensorflow') {
      throw new BackendError(
        'BACKEND_UNAVAILABLE',
        `Backend 'tensorflow' (${source}) is not available: ${failures.join('; ')}. Install @tensorflow/tfjs-node ` +
          `(or -gpu) next to @unet/runtime — see "Native backends" in @unet/runtime's README — or ask for 'wasm'.`,
        { cause: errors[errors.length - 1] },
      )
    }
  }
  if (request === 'auto' || request === 'wasm') {
    const nativeOff = options.native === false ? 'off: option native: false' : environment.env.UNET_NATIVE?.trim() === '0' ? 'off: UNET_NATIVE=0' : undefined
    const info = finish(await tryWasm(threads, threadSource, { wanted: nativeOff ?? true, environment }))
    if (info) return info
    if (request === 'wasm') {
      throw new BackendError('BACKEND_INIT_FAILED', `Backend 'wasm' (${source}) did not start: ${failures.join('; ')}. Try 'cpu'.`, {
        cause: errors[errors.length - 1],
      })
    }
  }
  const info = finish(await tryCpu())
  if (info) return info
  throw new BackendError('BACKEND_INIT_FAILED', `No backend started: ${failures.join('; ')}.`, { cause: errors[errors.length - 1] })
}
