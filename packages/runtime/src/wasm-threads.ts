import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads'

/**
 * Node support for the threaded (pthreads + SIMD) build of tfjs-backend-wasm.
 *
 * tfjs-backend-wasm switches threads off under Node (tensorflow/tfjs#3830) because its Emscripten glue
 * starts pthread workers from `blob:` URLs, which Node's `worker_threads` refuses. The glue itself handles
 * Node; only the script locations are wrong. So, for the duration of the backend's start-up only:
 * - the worker script is written to a real file (in a private temp folder, removed once the backend has
 *   started) and `URL.createObjectURL` hands out that path;
 * - the worker file first rewrites the main-script Blob the main thread posts it into a file path too;
 * - `os.cpus()` reports twice the wanted thread count, because the backend caps its thread pool at half
 *   the logical cores it sees (it assumes hyper-threads) and offers no other way to raise the cap;
 * - the workers are made by {@link PthreadWorker}, which lets the process exit while they idle.
 * Everything is put back as soon as `start` settles.
 */

/** Emscripten's pthread pool in tfjs-backend-wasm 4.x has 8 workers; the backend never uses more. */
export const MAX_WASM_THREADS = 8

/** True when running under Node (threads there need {@link withNodeWasmThreads}). */
export function isNode(): boolean {
  return typeof process === 'object' && typeof process.versions?.node === 'string'
}

interface ScriptFiles {
  dir: string
  worker: string
  main: string
}

async function scriptFiles(): Promise<ScriptFiles> {
  const factoryModule = (await import('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js')) as {
    default?: unknown
  }
  const factory = (factoryModule.default ?? factoryModule) as { toString(): string }
  const workerModule = (await import('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents?: string
    default?: { wasmWorkerContents?: string }
  }
  const workerSource = workerModule.wasmWorkerContents ?? workerModule.default?.wasmWorkerContents
  if (typeof workerSource !== 'string') throw new Error('tfjs-backend-wasm ships no threaded worker script')

  // The same text tfjs-backend-wasm puts in the Blob it posts to each worker.
  const main = `var WasmBackendModuleThreadedSimd = ${factory.toString()};\n`
  // A private folder (mode 0700): other users must not be able to swap the scripts our workers run.
  const dir = mkdtempSync(join(os.tmpdir(), 'unet-runtime-wasm-'))
  const mainPath = join(dir, 'tfjs-backend-wasm-threaded-simd.cjs')
  writeFileSync(mainPath, main)
  const prelude =
    `;(function(){var port=require('worker_threads').parentPort;var on=port.on.bind(port);` +
    `port.on=function(event,listener){return on(event,event!=='message'?listener:function(data){` +
    `if(data&&data.cmd==='load'&&typeof data.urlOrBlob!=='string')data.urlOrBlob=${JSON.stringify(mainPath)};` +
    `listener(data)})}})();\n`
  // tfjs escapes newlines the same way before it makes its Blob; the script has string literals with '\n'.
  const worker = prelude + workerSource.replace(/\n/g, '\\n')
  const workerPath = join(dir, 'tfjs-backend-wasm-threaded-simd.worker.cjs')
  writeFileSync(workerPath, worker)
  return { dir, worker: workerPath, main: mainPath }
}

/**
 * The Worker class the Emscripten glue gets. Its workers run plain scripts, so they need no loader flags; and
 * they never keep the process alive: the glue `ref()`s a worker while its pthread runs, and XNNPACK's pool
 * threads run for ever, so a script that finished would otherwise never exit. The main thread waits for
 * pool work synchronously, so nothing is lost when the process exits with them idle.
 */
class PthreadWorker extends NodeWorker {
  constructor(filename: string | URL, options: WorkerOptions = {}) {
    super(filename, { ...options, execArgv: [] })
    this.unref()
  }

  override ref(): void {
    // see the class comment
  }
}

/**
 * Runs `start` (which starts the wasm backend) with the Node shims for the threaded build in place.
 *
 * @param threads - the thread count wanted (≥ 2)
 * @param start - starts the backend, e.g. `() => tf.setBackend('wasm')`
 * @returns what `start` returns
 */
export async function withNodeWasmThreads<T>(threads: number, start: () => Promise<T>): Promise<T> {
  const files = await scriptFiles()
  const originalCreateObjectURL = URL.createObjectURL
  const originalCpus = os.cpus
  const globals = globalThis as { Worker?: unknown }
  const originalWorker = Object.getOwnPropertyDescriptor(globalThis, 'Worker')
  // The glue assigns `global.Worker = require('worker_threads').Worker` as it starts; keep ours in its place.
  Object.defineProperty(globalThis, 'Worker', { configurable: true, enumerable: false, get: () => PthreadWorker, set: () => undefined })
  URL.createObjectURL = (object: Blob | MediaSource): string =>
    object instanceof Blob && object.type === 'application/javascript' ? files.worker : originalCreateObjectURL(object)
  os.cpus = () => {
    const cpus = originalCpus()
    return Array.from({ length: 2 * threads }, (_, i) => cpus[i % Math.max(cpus.length, 1)] as os.CpuInfo)
  }
  try {
    return await start()
  } finally {
    // Every pool worker has read both scripts by the time the backend is ready (or has failed).
    rmSync(files.dir, { recursive: true, force: true })
    URL.createObjectURL = originalCreateObjectURL
    os.cpus = originalCpus
    if (originalWorker) Object.defineProperty(globalThis, 'Worker', originalWorker)
    else delete globals.Worker
    // Threads the backend starts later (beyond its pool of 8) look the class up again.
    if (globals.Worker === undefined) globals.Worker = PthreadWorker
  }
}
