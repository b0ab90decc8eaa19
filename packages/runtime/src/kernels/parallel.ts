import { Worker } from 'node:worker_threads'

import { WasmKernelError } from './errors'

/**
 * Runs our SIMD loops on more than one thread. tfjs-backend-wasm's thread pool is XNNPACK's and takes no
 * outside work, so on the threaded build (whose heap is a `SharedArrayBuffer`) we start our own helpers:
 * `threads − 1` Node worker threads, each instantiating the same loop modules over the same wasm memory.
 * A batch of calls goes into one shared list; the calling thread and the helpers each take the next call
 * from it until none is left (an atomic counter), and the caller returns when all are done. Helpers wait on `Atomics.wait` between
 * batches (asleep, not spinning) and never keep the process alive.
 *
 * Calls in one batch must write disjoint memory; that is the caller's split (rows, tiles, blocks of values).
 * Without shared memory, with one thread, or outside Node, every call runs on the calling thread.
 */

/** A module of loops: its exports by name, and its bytes for a shared or an unshared memory. */
export interface LoopModule {
  names: string[]
  build(shared: boolean): Uint8Array<ArrayBuffer>
}

const registry: LoopModule[] = []

/** Declares a loop module (once, at import), so that helper threads started later instantiate it too. */
export function defineLoopModule(names: string[], build: (shared: boolean) => Uint8Array<ArrayBuffer>): LoopModule {
  const cache = new Map<boolean, Uint8Array<ArrayBuffer>>()
  const module: LoopModule = {
    names,
    build: (shared) => {
      let bytes = cache.get(shared)
      if (bytes === undefined) cache.set(shared, (bytes = build(shared)))
      return bytes
    },
  }
  registry.push(module)
  return module
}

/**
 * Control block per helper, in 32-bit slots: sequence, then (slot 7) state (0 starting, 1 ready, −1 failed to
 * start). The batch itself is in the pool's shared work list: next call, count, arity, module, function, the
 * open batch's sequence (0 once closed), helpers inside it, error, then the argument lists. Every thread takes
 * the next call until none is left, so a thread that the OS deschedules (on a busy machine) delays only the
 * call it holds; and the caller closes the batch when the calls are gone, so a helper that wakes up late finds
 * it closed and does nothing, instead of being waited for.
 */
const HEADER = 8
const SLOTS = 1 << 15
/** A helper that has not finished its call by then is taken for dead: the kernel throws. */
const HELPER_TIMEOUT_MS = 120_000

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads')
const { memory, modules, control, work } = workerData
const c = new Int32Array(control)
const w = new Int32Array(work)
let loops
try {
  loops = modules.map((m) => {
    const exports = new WebAssembly.Instance(new WebAssembly.Module(m.bytes), { env: { memory } }).exports
    return m.names.map((n) => exports[n])
  })
  Atomics.store(c, 7, 1)
} catch (e) {
  Atomics.store(c, 7, -1)
  throw e
}
let seen = 0
for (;;) {
  Atomics.wait(c, 0, seen)
  seen = Atomics.load(c, 0)
  if (seen < 0) break
  if (Atomics.load(w, 5) !== seen) continue
  Atomics.add(w, 6, 1)
  // Still open once counted in: the caller waits for this thread until it leaves.
  if (Atomics.load(w, 5) === seen) {
    try {
      const f = loops[w[3]][w[4]]
      const count = w[1]
      const arity = w[2]
      const a = new Array(arity)
      for (;;) {
        const i = Atomics.add(w, 0, 1)
        if (i >= count) break
        const p = ${HEADER} + i * arity
        for (let k = 0; k < arity; k++) a[k] = w[p + k]
        f.apply(null, a)
      }
    } catch (e) {
      Atomics.store(w, 7, 1)
    }
  }
  if (Atomics.sub(w, 6, 1) === 1) Atomics.notify(w, 6)
}
`

interface Pool {
  helpers: Array<{ worker: Worker; control: Int32Array }>
  /** The shared work list (see HEADER). */
  work: Int32Array
  modules: LoopModule[]
  sequence: number
}

const pools = new WeakMap<WebAssembly.Memory, Pool | null>()

/** Internal switch: the tests run the loops on one thread to compare. */
export const parallelTuning = { enabled: true, /** batches handed to helper threads so far */ batches: 0 }

function poolFor(memory: WebAssembly.Memory, threads: number, module: LoopModule): Pool | null {
  const known = pools.get(memory)
  if (known !== undefined) {
    // A module declared after the helpers started: they cannot run it, so its calls stay on this thread.
    return known !== null && known.modules.includes(module) ? known : null
  }
  const modules = [...registry]
  let pool: Pool | null = null
  if (threads > 1 && typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer) {
    try {
      const work = new Int32Array(new SharedArrayBuffer(SLOTS * 4))
      const helpers = Array.from({ length: threads - 1 }, () => {
        const control = new Int32Array(new SharedArrayBuffer(HEADER * 4))
        const worker = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { memory, modules: modules.map((m) => ({ bytes: m.build(true), names: m.names })), control: control.buffer, work: work.buffer },
        })
        worker.unref()
        return { worker, control }
      })
      pool = { helpers, work, modules, sequence: 0 }
    } catch {
      pool = null
    }
  }
  pools.set(memory, pool)
  return pool
}

/** The wasm memory and thread count of a backend. */
export interface ParallelTarget {
  memory: WebAssembly.Memory
  threads: number
}

/** The backend's memory and its wasm thread count (1 for the single-threaded build), or null. */
export function parallelTarget(wasm: unknown): ParallelTarget | null {
  const module = wasm as { asm?: { memory?: unknown }; wasmMemory?: unknown; _get_threads_count?: () => number }
  const memory = module.asm?.memory ?? module.wasmMemory
  if (!(memory instanceof WebAssembly.Memory)) return null
  let threads = 1
  try {
    threads = Math.max(1, Math.floor(module._get_threads_count?.() ?? 1))
  } catch {
    threads = 1
  }
  return { memory, threads }
}

/**
 * Runs `f` of `module` once per argument list in `calls` (all lists of the same length, 32-bit integers),
 * split over the calling thread and the helpers. `local` is the same function instantiated on this thread.
 */
export function runParallel(
  target: ParallelTarget | null,
  module: LoopModule,
  name: string,
  local: (...args: number[]) => void,
  calls: number[][],
): void {
  const pool = parallelTuning.enabled && target !== null && calls.length > 1 ? poolFor(target.memory, target.threads, module) : null
  if (pool === null) {
    for (const args of calls) local(...args)
    return
  }
  const arity = calls[0]!.length
  const perBatch = Math.floor((SLOTS - HEADER) / Math.max(1, arity))
  const w = pool.work
  for (let start = 0; start < calls.length; ) {
    // Helpers still starting (or that failed to) are not woken: the threads that are take their calls.
    const ready = pool.helpers.filter((h) => Atomics.load(h.control, 7) === 1)
    const batch = calls.slice(start, start + perBatch)
    start += batch.length
    w[1] = batch.length
    w[2] = arity
    w[3] = pool.modules.indexOf(module)
    w[4] = module.names.indexOf(name)
    let p = HEADER
    for (const args of batch) for (const a of args) w[p++] = a
    Atomics.store(w, 0, 0)
    Atomics.store(w, 7, 0)
    const sequence = ++pool.sequence
    Atomics.store(w, 5, sequence)
    const woken = ready.slice(0, batch.length - 1)
    for (const h of woken) {
      Atomics.store(h.control, 0, sequence)
      Atomics.notify(h.control, 0)
    }
    if (woken.length > 0) parallelTuning.batches++
    let failed = false
    try {
      for (;;) {
        const i = Atomics.add(w, 0, 1)
        if (i >= batch.length) break
        local(...batch[i]!)
      }
    } finally {
      // Close the batch, then wait for the helpers inside it (if any) to finish their calls, so that none
      // still reads the list or writes when the caller moves on (or throws).
      Atomics.store(w, 5, 0)
      const since = Date.now()
      for (;;) {
        const inside = Atomics.load(w, 6)
        if (inside === 0) break
        if (Date.now() - since > HELPER_TIMEOUT_MS) {
          failed = true
          break
        }
        Atomics.wait(w, 6, inside, 1000)
      }
      if (Atomics.load(w, 7) !== 0) failed = true
    }
    if (failed) {
      throw new WasmKernelError(
        'KERNEL_UNSUPPORTED',
        `A SIMD loop (${name}) failed or stalled on a helper thread; set UNET_WASM_THREADS=1 to run on one thread, and report the shapes.`,
      )
    }
  }
}
