// Messages between the page (main thread) and its worker, which decodes, prepares, predicts and restores
// off the main thread so the page never freezes, whatever the backend.
import type { RunSpec } from '../run'

/** Where the worker gets the model from. */
export type ModelSource = { kind: 'url'; url: string } | { kind: 'files'; files: File[] }

export type ToWorker =
  | { type: 'init'; run: RunSpec; model: ModelSource; backend: string | null }
  | { type: 'predict'; items: { id: number; file: Blob }[] }

export type FromWorker =
  | { type: 'ready'; backend: string; detail: string; tried: string[]; loadMs: number }
  | { type: 'failed'; message: string }
  | {
      type: 'result'
      id: number
      width: number
      height: number
      channels: number
      /** at the model's size */
      modelProbabilities: Float32Array
      /** at the image's size, never zeroed by the classifier (the page applies its empty threshold when drawing) */
      probabilities: Float32Array
      /** the "has mask" classifier's probability; null when the model has none */
      hasMask: number | null
    }
  | { type: 'error'; id: number; message: string }
  | { type: 'batch'; ids: number[]; ms: number }
