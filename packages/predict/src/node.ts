import { existsSync, readdirSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { loadModel } from '@unet/runtime'
import { PredictError } from './errors'
import { parseRunFile, type RunFile } from './run-file'

/** The name of the prediction contract in a run folder. */
export const RUN_FILE = 'run.json'

/** A run folder as {@link readRun} found it. */
export interface RunFolder {
  /** The run folder, absolute. */
  readonly dir: string
  /** Its run.json, checked. */
  readonly run: RunFile
  /** The best model's model.json, absolute. */
  readonly modelPath: string
  /** The batch-norm-folded model's model.json, absolute, when the run has one. */
  readonly inferenceModelPath: string | null
}

/**
 * Reads and checks a run folder's run.json (docs/run-format.md). Nothing else of the folder is read:
 * checkpoints are private to training.
 *
 * @param dir - the run folder
 * @returns run.json and the absolute model paths
 * @throws {PredictError} `NO_RUN`, `RUN_INVALID` or `RUN_VERSION`, naming the file
 * @example
 * ```ts
 * const { run, modelPath } = await readRun('runs/carvana')
 * ```
 */
export async function readRun(dir: string): Promise<RunFolder> {
  const abs = resolve(dir)
  const file = join(abs, RUN_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    const message =
      code === 'ENOENT' || code === 'ENOTDIR'
        ? existsSync(abs)
          ? `${dir} is not a run folder (no ${RUN_FILE}); pass --model with a folder written by \`unet train\` (runs from before run.json need training again)`
          : `run folder ${dir} does not exist; pass --model with a folder written by \`unet train\``
        : `cannot read ${file}: ${(cause as Error).message}`
    throw new PredictError('NO_RUN', message, { file, cause })
  }
  const run = parseRunFile(text, file)
  const modelPath = join(abs, run.model)
  return { dir: abs, run, modelPath, inferenceModelPath: run.inferenceModel === undefined ? null : join(abs, run.inferenceModel) }
}

/**
 * Loads a run's model for prediction: the batch-norm-folded inference model when the run has one (faster, same
 * outputs within 1e-5), else the best model.
 *
 * @param folder - what {@link readRun} returned
 * @param options - `prefer: 'best'` to skip the inference model
 * @returns the model (caller disposes it)
 * @example
 * ```ts
 * const model = await loadRunModel(await readRun('runs/a'))
 * ```
 */
export async function loadRunModel(folder: RunFolder, options: { prefer?: 'inference' | 'best' } = {}): Promise<LayersModel> {
  const path = options.prefer !== 'best' && folder.inferenceModelPath !== null ? folder.inferenceModelPath : folder.modelPath
  return loadModel(path)
}

/**
 * The newest run folder (by run.json's time) under `cwd/runs`: what `--model` defaults to.
 *
 * @param cwd - where to look for `runs/`
 * @returns the folder, or null when there is none
 * @example
 * ```ts
 * const dir = latestRun(process.cwd())
 * ```
 */
export function latestRun(cwd: string): string | null {
  const root = join(cwd, 'runs')
  if (!existsSync(root)) return null
  let best: { dir: string; time: number } | null = null
  for (const name of readdirSync(root)) {
    const file = join(root, name, RUN_FILE)
    if (!existsSync(file)) continue
    const time = statSync(file).mtimeMs
    if (best === null || time > best.time) best = { dir: join(root, name), time }
  }
  return best?.dir ?? null
}
