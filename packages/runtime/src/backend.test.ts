import * as tf from '@tensorflow/tfjs-core'
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu'
import { afterEach, describe, expect, it } from 'vitest'

import { idleCores, startBackend, type BackendEnvironment } from './backend'
import { BackendError } from './errors'

function notInstalled(name: string): Error {
  return Object.assign(new Error(`Cannot find package '${name}' imported from /app/index.js`), { code: 'ERR_MODULE_NOT_FOUND' })
}

/** This machine as the tests see it: no native TensorFlow, unless `installed` fakes one. */
function environment(env: Record<string, string> = {}, installed: Record<string, () => void> = {}): BackendEnvironment & { imported: string[] } {
  const imported: string[] = []
  return {
    imported,
    env,
    cores: 2,
    load: 0,
    importModule: async (name: string) => {
      imported.push(name)
      const load = installed[name]
      if (!load) throw notInstalled(name)
      load()
      return {}
    },
  }
}

/** What importing tfjs-node does: registers a 'tensorflow' backend (here a cpu one in disguise). */
const fakeTfjsNode = () => {
  tf.registerBackend('tensorflow', () => new MathBackendCPU())
}

async function rejection(promise: Promise<unknown>): Promise<BackendError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(BackendError)
  return error as BackendError
}

afterEach(() => {
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow')
})

describe('idleCores', () => {
  it('gives the cores other work leaves idle, at least one', () => {
    expect(idleCores(8, 0.2)).toBe(8)
    expect(idleCores(8, 3)).toBe(5)
    expect(idleCores(2, 5.2)).toBe(1)
    expect(idleCores(4, 0)).toBe(4)
  })
})

describe('initBackend', () => {
  it('on a machine without tfjs-node picks wasm, with threads and the training kernels, and says why', async () => {
    const env = environment()
    const info = await startBackend({}, env)
    expect(info.backend).toBe('wasm')
    expect(tf.getBackend()).toBe('wasm')
    expect(env.imported).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', '@unet/runtime-native'])
    expect(info.native).toBe(false)
    expect(info.reason).toContain('no native conv kernels (@unet/runtime-native is not installed)')
    expect(info.reason).toMatch(/^wasm: fastest present/)
    expect(info.reason).toContain('@tensorflow/tfjs-node-gpu is not installed')
    expect(info.reason).toContain('@tensorflow/tfjs-node is not installed')
    expect(info.kernels).toContain('Conv2DBackpropFilter')
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined()
    // Threads default to the cores available (2 here); tfjs-backend-wasm alone runs 1 thread under Node.
    expect(info.threads).toBe(2)
    expect(info.reason).toContain('on 2 threads (2 cores, load 0.0)')
  })

  it('runs wasm pthreads that do not keep a finished script alive', async () => {
    await startBackend({ backend: 'wasm' }, environment())
    const pthread = (tf.backend() as unknown as { wasm: { PThread: { runningWorkers: { ref(): void }[] } } }).wasm.PThread
    expect(pthread.runningWorkers.length).toBeGreaterThan(0)
    // The Emscripten glue ref()s each running pthread's worker, and the pool's threads never end, so a
    // ref'd one would keep the process alive for ever. Node says whether a worker is ref'd only through
    // its internal handle.
    const hasRef = (worker: object): boolean => {
      const handle = Object.getOwnPropertySymbols(worker).find((s) => String(s) === 'Symbol(kHandle)')
      const internal = (worker as Record<symbol, { hasRef(): boolean } | undefined>)[handle as symbol]
      if (!internal) throw new Error('this Node has no worker handle to ask; update the test')
      return internal.hasRef()
    }
    for (const worker of pthread.runningWorkers) {
      worker.ref()
      expect(hasRef(worker)).toBe(false)
    }
  })

  it('prefers tfjs-node-gpu, then tfjs-node, when present', async () => {
    const gpu = await startBackend({}, environment({}, { '@tensorflow/tfjs-node-gpu': fakeTfjsNode }))
    expect(gpu.backend).toBe('tensorflow')
    expect(tf.getBackend()).toBe('tensorflow')
    expect(gpu.reason).toMatch(/via @tensorflow\/tfjs-node-gpu/)
    tf.removeBackend('tensorflow')

    const env = environment({}, { '@tensorflow/tfjs-node': fakeTfjsNode })
    const cpuBuild = await startBackend({}, env)
    expect(cpuBuild.backend).toBe('tensorflow')
    expect(cpuBuild.reason).toContain('@tensorflow/tfjs-node-gpu is not installed')
    expect(cpuBuild.reason).toMatch(/via @tensorflow\/tfjs-node$/)
    tf.removeBackend('tensorflow')

    const asked = await startBackend({ backend: 'tensorflow' }, environment({}, { '@tensorflow/tfjs-node': fakeTfjsNode }))
    expect(asked.backend).toBe('tensorflow')
    expect(asked.reason).toMatch(/^tensorflow: requested by option backend: 'tensorflow' \(@tensorflow\/tfjs-node-gpu is not installed\)/)
  })

  it('skips a native package that is installed but cannot load, and says what went wrong', async () => {
    const broken = () => {
      throw new Error('libtensorflow.so.2: cannot open shared object file')
    }
    const info = await startBackend({}, environment({}, { '@tensorflow/tfjs-node-gpu': broken }))
    expect(info.backend).toBe('wasm')
    expect(info.reason).toContain('@tensorflow/tfjs-node-gpu failed to load (libtensorflow.so.2: cannot open shared object file)')
  })

  it('lets UNET_BACKEND override auto, but not an explicit option', async () => {
    const env = environment({ UNET_BACKEND: 'cpu' })
    const info = await startBackend({}, env)
    expect(info.backend).toBe('cpu')
    expect(tf.getBackend()).toBe('cpu')
    expect(info.reason).toMatch(/UNET_BACKEND=cpu/)
    expect(env.imported).toEqual([])

    const explicit = await startBackend({ backend: 'wasm' }, environment({ UNET_BACKEND: 'cpu' }))
    expect(explicit.backend).toBe('wasm')
    expect(explicit.reason).toMatch(/option backend: 'wasm'/)
  })

  it('starts cpu when asked', async () => {
    const info = await startBackend({ backend: 'cpu' }, environment())
    expect(info).toMatchObject({ backend: 'cpu', threads: 1, kernels: [] })
    expect(tf.getBackend()).toBe('cpu')
  })

  it('throws a clear error when the tensorflow backend is asked for and absent', async () => {
    const before = tf.getBackend()
    const error = await rejection(startBackend({ backend: 'tensorflow' }, environment()))
    expect(error.code).toBe('BACKEND_UNAVAILABLE')
    expect(error.message).toContain('@tensorflow/tfjs-node-gpu is not installed')
    expect(error.message).toContain('@tensorflow/tfjs-node is not installed')
    expect(error.message).toMatch(/README/)
    expect(error.cause).toBeInstanceOf(Error)
    expect(tf.getBackend()).toBe(before)

    const viaEnv = await rejection(startBackend({}, environment({ UNET_BACKEND: 'tensorflow' })))
    expect(viaEnv.message).toMatch(/UNET_BACKEND=tensorflow/)
  })

  it('rejects an unknown backend name, listing the valid ones', async () => {
    const error = await rejection(startBackend({}, environment({ UNET_BACKEND: 'webgpu' })))
    expect(error.code).toBe('BACKEND_UNKNOWN')
    expect(error.message).toMatch(/UNET_BACKEND/)
    expect(error.message).toContain("'auto', 'tensorflow', 'wasm', 'cpu'")
    const fromOption = await rejection(startBackend({ backend: 'gpu' as never }, environment()))
    expect(fromOption.code).toBe('BACKEND_UNKNOWN')
  })

  it('rejects a thread count that is not a whole number ≥ 1', async () => {
    for (const threads of [0, -2, 1.5]) {
      expect((await rejection(startBackend({ threads }, environment()))).code).toBe('BACKEND_OPTIONS_INVALID')
    }
    const fromEnv = await rejection(startBackend({}, environment({ UNET_WASM_THREADS: 'many' })))
    expect(fromEnv.code).toBe('BACKEND_OPTIONS_INVALID')
    expect(fromEnv.message).toContain('UNET_WASM_THREADS=many')
  })
})
