// TensorFlow.js in the worker: pick a backend, load the run's model, predict batches of prepared images.
import * as tf from '@tensorflow/tfjs-core'
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers'
import { predictImages } from '@unet/predict'
import type { RunSpec } from '../run'
import type { ModelSource } from './protocol'

/** The backends the page tries, fastest first. */
export const BACKENDS = ['webgl', 'wasm', 'cpu'] as const
export type BackendName = (typeof BACKENDS)[number]

// Each backend is imported only when tried, so the page downloads the code of the one it uses.
const loaders: Record<BackendName, () => Promise<void>> = {
  webgl: async () => {
    await import('@tensorflow/tfjs-backend-webgl')
  },
  wasm: async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm')
    const [plain, simd, threaded] = await Promise.all([
      import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url'),
      import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url'),
      import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url'),
    ])
    wasm.setWasmPaths({
      'tfjs-backend-wasm.wasm': plain.default,
      'tfjs-backend-wasm-simd.wasm': simd.default,
      'tfjs-backend-wasm-threaded-simd.wasm': threaded.default,
    })
  },
  cpu: async () => {
    await import('@tensorflow/tfjs-backend-cpu')
  },
}

/**
 * Starts the first backend that works, in the order webgl → wasm → cpu, or only `wanted` when given.
 *
 * @returns the backend's name and what was tried before it, with the reason each failed
 */
export async function startBackend(wanted: string | null): Promise<{ backend: string; tried: string[]; detail: string }> {
  const order: BackendName[] = wanted && (BACKENDS as readonly string[]).includes(wanted) ? [wanted as BackendName] : [...BACKENDS]
  const tried: string[] = []
  for (const name of order) {
    try {
      await loaders[name]()
      if (await tf.setBackend(name)) {
        await tf.ready()
        if (name === 'webgl' && !tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED')) {
          // half floats would not match unet predict's probabilities; prefer the slower exact backends
          tried.push('webgl (no 32-bit float textures)')
          tf.removeBackend('webgl')
          continue
        }
        const detail = await describe(name)
        if (name === 'webgl' && order.length > 1 && SOFTWARE_GL.test(detail)) {
          // WebGL drawn by the CPU (no GPU, a VM, headless) is many times slower than wasm on the same CPU
          tried.push(`webgl (software renderer: ${detail.match(SOFTWARE_GL)![0]}; wasm is faster)`)
          tf.removeBackend('webgl')
          continue
        }
        return { backend: name, tried, detail }
      }
      tried.push(`${name} (not available)`)
    } catch (error) {
      tried.push(`${name} (${error instanceof Error ? error.message : String(error)})`)
    }
  }
  throw new Error(`no TensorFlow.js backend starts here: ${tried.join('; ')}`)
}

/** WebGL renderers that run on the CPU. */
const SOFTWARE_GL = /SwiftShader|llvmpipe|softpipe|Software Rasterizer|Microsoft Basic Render/i

/** What the backend runs on: SIMD and threads for wasm, the GPU renderer for webgl. */
async function describe(name: BackendName): Promise<string> {
  try {
    if (name === 'wasm') {
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')
      const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')
      return `${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'threads' : 'one thread'}`
    }
    if (name === 'webgl') {
      const gl = new OffscreenCanvas(1, 1).getContext('webgl2')
      const info = gl?.getExtension('WEBGL_debug_renderer_info')
      return gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : 'WebGL'
    }
  } catch {
    // a description is a nicety; never fail the backend for it
  }
  return 'JavaScript'
}

/** Loads the run's model from a URL or from dropped files (model.json + its .bin files). */
export async function loadModel(source: ModelSource, run: RunSpec): Promise<LayersModel> {
  if (source.kind === 'url') return loadLayersModel(source.url)
  const name = run.modelPath.split('/').pop()!
  const jsonFiles = source.files.filter((f) => f.name === name)
  // a dropped folder keeps its paths: pick the model.json that run.json names (inference/ over best/)
  const json =
    jsonFiles.find((f) => (f as File & { webkitRelativePath?: string }).webkitRelativePath?.endsWith(run.modelPath)) ??
    (jsonFiles.length === 1 ? jsonFiles[0] : undefined)
  if (!json) {
    throw new Error(jsonFiles.length === 0 ? `no ${name} among the dropped files; drop run.json, ${run.modelPath} and its .bin files` : `several ${name} files were dropped; drop the run folder itself, or only ${run.modelPath} and its .bin files`)
  }
  const manifest = JSON.parse(await json.text()) as { weightsManifest?: { paths: string[] }[] }
  const wanted = new Set((manifest.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => p.split('/').pop()!)))
  const bins = source.files.filter((f) => wanted.has(f.name))
  const missing = [...wanted].filter((w) => !bins.some((b) => b.name === w))
  if (missing.length > 0) throw new Error(`${run.modelPath} needs ${missing.join(', ')}; drop them too`)
  const { browserFiles } = tf.io
  return loadLayersModel(browserFiles([json, ...dedupe(bins)]))
}

function dedupe(files: File[]): File[] {
  const seen = new Set<string>()
  return files.filter((f) => !seen.has(f.name) && (seen.add(f.name), true))
}

/**
 * Predicts a batch of prepared images with @unet/predict's predictImages, what `unet predict`'s
 * predictProbabilities computes (a sigmoid applied to logits; no test-time augmentation) before its "has mask"
 * classifier zeroes any map: the page applies the classifier itself (keepsMask) at the empty threshold the user sets.
 *
 * @param images - each `height × width × channels` values, as prepareImage returns them
 * @returns one `height × width` probability map per image, and each image's classifier probability (null without one)
 */
export async function predictBatch(model: LayersModel, images: Float32Array[], run: RunSpec): Promise<{ probabilities: Float32Array[]; hasMask: (number | null)[] }> {
  const { width, height, channels } = run.input
  const plane = width * height * channels
  const data = new Float32Array(images.length * plane)
  images.forEach((img, i) => data.set(img, i * plane))
  const { probabilities, hasMask } = await predictImages(model, { data, count: images.length, height, width, channels }, { activation: run.output.activation, batchSize: images.length })
  return {
    // own buffers, so each can be transferred to the page on its own
    probabilities: probabilities.map((m) => m.slice()),
    hasMask: probabilities.map((_, i) => (hasMask === null ? null : (hasMask[i] as number))),
  }
}
