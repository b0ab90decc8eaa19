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

/** The manifest of a k-fold folder (`unet kfold`), beside its `fold-<i>` run folders. */
export const KFOLD_FILE = 'kfold.json'

/** One fold of a {@link KfoldManifest}. */
export interface KfoldFold {
  /** 0-based fold index: the fold held out for validation. */
  readonly fold: number
  /** Its run folder, relative to the k-fold folder (`fold-<i>`). */
  readonly dir: string
  /** `pending` (not started), `partial` (started; `unet kfold` resumes it) or `finished`. */
  readonly status: 'pending' | 'partial' | 'finished'
}

/** `kfold.json`: what `unet kfold` trained, fold by fold (docs/run-format.md). */
export interface KfoldManifest {
  readonly format: 'unet-kfold'
  readonly version: 1
  /** K. */
  readonly folds: number
  readonly runs: readonly KfoldFold[]
}

/**
 * Parses and checks a `kfold.json`.
 *
 * @param json - its text or parsed value
 * @param source - where it came from, named in errors
 * @returns the manifest
 * @throws {PredictError} `RUN_INVALID` naming the file and field
 * @example
 * ```ts
 * const manifest = parseKfoldManifest(await readFile('cv/kfold.json', 'utf8'), 'cv/kfold.json')
 * ```
 */
export function parseKfoldManifest(json: string | unknown, source: string): KfoldManifest {
  const bad = (what: string): never => {
    throw new PredictError('RUN_INVALID', `${source}: ${what}; the k-fold folder is damaged or not written by \`unet kfold\``, { file: source })
  }
  let value: unknown = json
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json)
    } catch (cause) {
      throw new PredictError('RUN_INVALID', `${source} is not valid JSON (${(cause as Error).message}); the k-fold folder is damaged`, { file: source, cause })
    }
  }
  const root = value as Record<string, unknown> | null
  if (root === null || typeof root !== 'object' || root.format !== 'unet-kfold') return bad('no "format": "unet-kfold"')
  if (root.version !== 1) return bad(`version ${JSON.stringify(root.version)} is not the 1 this @unet/predict reads; upgrade @unet/predict`)
  const k = root.folds
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 2) return bad(`"folds" must be an integer ≥ 2, found ${JSON.stringify(k)}`)
  if (!Array.isArray(root.runs) || root.runs.length !== k) return bad(`"runs" must list the ${k} folds`)
  const runs = (root.runs as unknown[]).map((r, i): KfoldFold => {
    const f = r as Record<string, unknown>
    if (f === null || typeof f !== 'object' || f.fold !== i) return bad(`runs[${i}].fold must be ${i}`)
    if (typeof f.dir !== 'string' || f.dir === '' || f.dir.startsWith('/') || f.dir.split(/[\\/]/).includes('..')) return bad(`runs[${i}].dir must be a folder inside the k-fold folder`)
    if (f.status !== 'pending' && f.status !== 'partial' && f.status !== 'finished') return bad(`runs[${i}].status must be "pending", "partial" or "finished"`)
    return { fold: i, dir: f.dir, status: f.status }
  })
  return { format: 'unet-kfold', version: 1, folds: k, runs }
}

/** Several models predicted as one (their probabilities averaged): a run's snapshots or a k-fold folder's folds. */
export interface ModelSet extends RunFolder {
  /** `run`: one run folder; `kfold`: a k-fold folder. */
  readonly kind: 'run' | 'kfold'
  /** The run folders whose models are averaged (the folds, or the one run). */
  readonly members: readonly RunFolder[]
  /** Every model.json averaged, absolute. */
  readonly modelPaths: readonly string[]
}

/**
 * Reads what `--model DIR` names for prediction: a run folder, or a k-fold folder (with `kfold.json`) whose finished
 * folds are averaged. With `snapshots`, each run contributes its cosine-cycle snapshots (run.json `snapshots`)
 * instead of its best model. The returned `run` is the first member's, with `threshold` the mean of the members'
 * and `emptyClassifier` kept only when every member has one (its threshold the mean).
 *
 * @param dir - a run folder or a k-fold folder
 * @param options - `snapshots`: average the snapshot-cycle checkpoints
 * @returns the members and every model path to average
 * @throws {PredictError} `NO_RUN` (no run, unfinished folds, no snapshots) or `MODEL_MISMATCH` (folds that take different inputs)
 * @example
 * ```ts
 * const set = await readModelSet('cv', { snapshots: false })
 * const models = await loadRunModels(set)
 * ```
 */
export async function readModelSet(dir: string, options: { snapshots?: boolean } = {}): Promise<ModelSet> {
  const abs = resolve(dir)
  const manifestFile = join(abs, KFOLD_FILE)
  let members: RunFolder[]
  let kind: ModelSet['kind'] = 'run'
  if (existsSync(manifestFile)) {
    kind = 'kfold'
    const manifest = parseKfoldManifest(await readFile(manifestFile, 'utf8'), manifestFile)
    const unfinished = manifest.runs.filter((r) => r.status !== 'finished')
    if (unfinished.length > 0) {
      throw new PredictError('NO_RUN', `${dir}: fold(s) ${unfinished.map((r) => r.fold).join(', ')} of ${manifest.folds} are not finished; run \`unet kfold --out ${dir}\` again to finish them`, { file: manifestFile })
    }
    members = []
    for (const r of manifest.runs) members.push(await readRun(join(abs, r.dir)))
  } else {
    members = [await readRun(abs)]
  }
  const first = members[0] as RunFolder
  for (const m of members.slice(1)) {
    const same = JSON.stringify([m.run.input, m.run.prepare, m.run.output]) === JSON.stringify([first.run.input, first.run.prepare, first.run.output])
    if (!same) throw new PredictError('MODEL_MISMATCH', `${m.dir} takes other inputs or gives other outputs than ${first.dir} (run.json input, prepare, output); the folds of one k-fold folder must be trained alike`)
  }
  const modelPaths: string[] = []
  for (const m of members) {
    if (options.snapshots === true) {
      const snaps = m.run.snapshots ?? []
      if (snaps.length === 0) throw new PredictError('NO_RUN', `${m.dir} has no cosine snapshots (run.json "snapshots"); train it with --lr-schedule cosine for at least one full cycle, or drop --snapshots`, { file: join(m.dir, RUN_FILE) })
      for (const s of snaps) modelPaths.push(join(m.dir, s))
    } else {
      modelPaths.push(m.inferenceModelPath ?? m.modelPath)
    }
  }
  // rounded to 1e-9, so thresholds swept in steps of 0.05 average to 0.35, not 0.3499999999999999
  const mean = (xs: number[]): number => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 1e9) / 1e9
  const classifiers = members.map((m) => m.run.emptyClassifier)
  const { emptyClassifier: _drop, ...base } = first.run
  const run: RunFile = {
    ...base,
    threshold: mean(members.map((m) => m.run.threshold)),
    ...(classifiers.every((e) => e !== undefined) ? { emptyClassifier: { output: classifiers[0]!.output, threshold: mean(classifiers.map((e) => e!.threshold)) } } : {}),
  }
  return { dir: abs, run, modelPath: first.modelPath, inferenceModelPath: first.inferenceModelPath, kind, members, modelPaths }
}

/**
 * Loads every model a run folder or {@link ModelSet} predicts with: the set's `modelPaths`, or the run's model.
 *
 * @param folder - from `readRun` or {@link readModelSet}
 * @returns the models (caller disposes them)
 * @example
 * ```ts
 * const models = await loadRunModels(await readModelSet('runs/a', { snapshots: true }))
 * ```
 */
export async function loadRunModels(folder: RunFolder | ModelSet): Promise<LayersModel[]> {
  if (!('modelPaths' in folder)) return [await loadRunModel(folder)]
  const models: LayersModel[] = []
  try {
    for (const path of folder.modelPaths) models.push(await loadModel(path))
  } catch (error) {
    for (const m of models) m.dispose()
    throw error
  }
  return models
}
