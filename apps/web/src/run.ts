// What the page and the server need of a run.json: @unet/predict's parseRunFile checks it (docs/run-format.md);
// this adds the page's own limits (one class, 1 or 3 channels) and picks the model to load.
import { parseRunFile, PredictError, resolveEmptyThreshold, type RunFile } from '@unet/predict'

/** How images are brought to the model's size (run.json `prepare`). */
export type PrepareSettings = RunFile['prepare']

/** What the page needs of a run.json, checked. */
export interface RunSpec {
  /** Path of the model to load, relative to the run folder: `inferenceModel` when present, else `model`. */
  modelPath: string
  /** Both model paths the run names (the server serves exactly these and their weight files). */
  modelPaths: string[]
  input: { width: number; height: number; channels: 1 | 3 }
  prepare: PrepareSettings
  output: { classes: 1; activation: 'sigmoid' | 'linear' }
  threshold: number
  /**
   * The run's empty threshold when its model has a "has mask" classifier (run.json `emptyClassifier`, `unet train
   * --deep-supervision`): images whose classifier probability is below it get an empty mask, as `unet predict`
   * does. Null for a run without the classifier.
   */
  emptyThreshold: number | null
  /** RLE pixel order in @unet/rle's words, and the submission's id column and suffix. */
  rle: { order: 'column-major' | 'row-major'; idColumn: string; idSuffix: string }
  layout: string
  encoder: string
  monitor: RunFile['monitor']
}

/** A run.json that cannot be used; the message names the file and the field. */
export class RunFormatError extends Error {
  override readonly name = 'RunFormatError'
  readonly code = 'BAD_RUN' as const
}

/**
 * Reads and checks a run.json (through @unet/predict's parseRunFile).
 *
 * @param text - the file's text
 * @param where - the file's name or URL, for messages
 * @returns the settings the page needs
 * @throws {RunFormatError} when it is not a unet run, is newer than this reader, a field is wrong, or the page cannot show it
 * @example
 * ```ts
 * const run = parseRun(await (await fetch('run/run.json')).text(), 'run/run.json')
 * ```
 */
export function parseRun(text: string, where = 'run.json'): RunSpec {
  let run: RunFile
  try {
    run = parseRunFile(text, where)
  } catch (cause) {
    if (cause instanceof PredictError) throw new RunFormatError(cause.message, { cause })
    throw cause
  }
  const { channels } = run.input
  if (channels !== 1 && channels !== 3) throw new RunFormatError(`${where}: input.channels is ${channels}; the page reads grey (1) and RGB (3) images only`)
  if (run.output.classes !== 1) throw new RunFormatError(`${where}: output.classes is ${run.output.classes}; the page shows binary masks (classes 1) only`)
  return {
    modelPath: run.inferenceModel ?? run.model,
    modelPaths: run.inferenceModel === undefined ? [run.model] : [run.model, run.inferenceModel],
    input: { width: run.input.width, height: run.input.height, channels },
    prepare: run.prepare,
    output: { classes: 1, activation: run.output.activation },
    threshold: run.threshold,
    emptyThreshold: resolveEmptyThreshold(run, 'auto'),
    rle: { order: run.rle.order === 'row' ? 'row-major' : 'column-major', idColumn: run.rle.idColumn, idSuffix: run.rle.idSuffix },
    layout: run.layout,
    encoder: run.encoder,
    monitor: run.monitor,
  }
}
