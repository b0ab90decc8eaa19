// The page's worker: decode → prepare → predict in batches → restore, posting each result as it is done.
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { prepareImage, restoreProbabilities, type PrepareSpec } from '../prepare'
import type { RunSpec } from '../run'
import { decodeImage, type DecodedImage } from './decode'
import { loadModel, predictBatch, startBackend } from './engine'
import type { FromWorker, ToWorker } from './protocol'

let model: LayersModel | null = null
let run: RunSpec | null = null
let queue: Promise<void> = Promise.resolve()

const post = (message: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(message, transfer)
const text = (error: unknown): string => (error instanceof Error ? error.message : String(error))

function specOf(r: RunSpec): PrepareSpec {
  return { width: r.input.width, height: r.input.height, ...r.prepare }
}

async function init(message: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  const started = performance.now()
  try {
    const { backend, tried, detail } = await startBackend(message.backend)
    model?.dispose()
    model = await loadModel(message.model, message.run)
    run = message.run
    // one prediction compiles the backend's programs, so the user's first image is not the slow one
    await predictBatch(model, [new Float32Array(run.input.width * run.input.height * run.input.channels)], run)
    post({ type: 'ready', backend, detail, tried, loadMs: performance.now() - started })
  } catch (error) {
    post({ type: 'failed', message: text(error) })
  }
}

async function predict(items: { id: number; file: Blob }[]): Promise<void> {
  const started = performance.now()
  try {
    await predictItems(items)
  } finally {
    // always: the page counts batches in flight, and a batch whose images all failed still ends
    post({ type: 'batch', ids: items.map((i) => i.id), ms: performance.now() - started })
  }
}

async function predictItems(items: { id: number; file: Blob }[]): Promise<void> {
  if (!model || !run) {
    for (const item of items) post({ type: 'error', id: item.id, message: 'no model loaded' })
    return
  }
  const spec = specOf(run)
  const ready: { id: number; image: DecodedImage; input: Float32Array }[] = []
  for (const item of items) {
    try {
      const image = await decodeImage(item.file)
      ready.push({ id: item.id, image, input: prepareImage(image, run.input, spec) })
    } catch (error) {
      post({ type: 'error', id: item.id, message: text(error) })
    }
  }
  if (ready.length === 0) return
  let outputs: { probabilities: Float32Array[]; hasMask: (number | null)[] }
  try {
    outputs = await predictBatch(model, ready.map((r) => r.input), run)
  } catch (error) {
    for (const r of ready) post({ type: 'error', id: r.id, message: `prediction failed: ${text(error)}` })
    return
  }
  ready.forEach((r, i) => {
    const modelProbabilities = outputs.probabilities[i]!
    const probabilities = restoreProbabilities(modelProbabilities, r.image, spec)
    post(
      { type: 'result', id: r.id, width: r.image.width, height: r.image.height, channels: r.image.channels, modelProbabilities, probabilities, hasMask: outputs.hasMask[i] ?? null },
      probabilities.buffer === modelProbabilities.buffer ? [probabilities.buffer] : [modelProbabilities.buffer, probabilities.buffer],
    )
  })
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data
  // one job at a time, in order: a predict sent while the model loads waits for it
  queue = queue.then(() => (message.type === 'init' ? init(message) : predict(message.items)))
}
