import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { basename, isAbsolute, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

import { syncDir, TEMP_PREFIX, writeFileAtomic } from '@unet/files'
import { ModelFileError } from './errors'

/** Options of {@link saveModel}. */
export interface SaveModelOptions {
  /** Also save the optimizer's state (and the training config), to resume training. Default false. */
  includeOptimizer?: boolean
  /** Largest weight file, in bytes (default 4 MiB, as tfjs-converter does). Browsers cache small files better. */
  shardSizeBytes?: number
}

/** The model file inside a saved model's folder. */
export const MODEL_JSON = 'model.json'

const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024
/** Weight files are named after their content, so a model.json never points at bytes another save wrote. */
const SHARD_NAME = /^group1-shard(\d+)of(\d+)-([0-9a-f]{16})\.bin$/

/** Accepts plain paths and `file://` URLs (the form tfjs-node's `model.save('file://…')` takes). */
function toPath(pathOrUrl: string): string {
  return pathOrUrl.startsWith('file://') ? fileURLToPath(pathOrUrl) : pathOrUrl
}

function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16)
}

function toBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0)
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data))
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Weight paths a model.json on disk refers to (empty when there is none or it cannot be read). */
async function referencedFiles(jsonPath: string): Promise<string[]> {
  try {
    const json = JSON.parse(await readFile(jsonPath, 'utf8')) as tf.io.ModelJSON
    return (json.weightsManifest ?? []).flatMap((group) => group.paths.map((p) => basename(p)))
  } catch {
    return []
  }
}

/**
 * Saves a layers model to a folder in the standard TensorFlow.js layers format — `model.json` plus weight
 * files (`group1-shard1of2-<hash>.bin`, …) — which `tf.loadLayersModel('file://…/model.json')` (tfjs-node)
 * and a browser (`tf.loadLayersModel('https://…/model.json')`) both read.
 *
 * The save is atomic: weight files are written under new, content-derived names (temp file + rename), then
 * `model.json` is replaced by rename, which is the moment the new model becomes visible. A crash or error
 * at any point before leaves the previous model loadable, untouched; after it, the previous model's weight
 * files are removed. One process at a time should write to a folder.
 *
 * @param model - the model to save
 * @param dirOrUrl - the folder (created if missing), as a path or a `file://` URL
 * @param options - `includeOptimizer` to keep the optimizer state; `shardSizeBytes`
 * @returns once every file is on disk
 * @throws {ModelFileError} `SAVE_FAILED` naming the file that could not be written (previous files intact)
 * @example
 * ```ts
 * await saveModel(model, 'runs/1/model')
 * const again = await loadModel('runs/1/model')
 * ```
 */
export async function saveModel(model: tfl.LayersModel, dirOrUrl: string, options: SaveModelOptions = {}): Promise<void> {
  const dir = toPath(dirOrUrl)
  const shardSize = options.shardSizeBytes ?? DEFAULT_SHARD_BYTES
  if (!Number.isInteger(shardSize) || shardSize < 1) {
    throw new ModelFileError('SAVE_FAILED', dir, `saveModel: shardSizeBytes must be a whole number ≥ 1, got ${options.shardSizeBytes}.`)
  }
  let artifacts: tf.io.ModelArtifacts | undefined
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) }
    }),
    { includeOptimizer: options.includeOptimizer ?? false },
  )
  if (artifacts === undefined) throw new ModelFileError('SAVE_FAILED', dir, `saveModel: the model produced nothing to save into ${dir}.`)

  const bytes = toBytes(artifacts.weightData)
  const count = Math.ceil(bytes.byteLength / shardSize)
  const shards = Array.from({ length: count }, (_, i) => {
    const data = bytes.subarray(i * shardSize, Math.min(bytes.byteLength, (i + 1) * shardSize))
    return { name: `group1-shard${i + 1}of${count}-${digest(data)}.bin`, data }
  })
  const json: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: shards.map((s) => `./${s.name}`), weights: artifacts.weightSpecs ?? [] }],
  }
  if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig
  if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata
  if (artifacts.signature != null) json.signature = artifacts.signature
  if (artifacts.modelInitializer != null) json.modelInitializer = artifacts.modelInitializer

  const jsonPath = join(dir, MODEL_JSON)
  let current = dir
  try {
    await mkdir(dir, { recursive: true })
    const previous = await referencedFiles(jsonPath)
    for (const shard of shards) {
      current = join(dir, shard.name)
      await writeFileAtomic(current, shard.data)
    }
    await syncDir(dir)
    current = jsonPath
    // The commit point: until this rename, model.json still describes the previous, intact weight files.
    await writeFileAtomic(jsonPath, JSON.stringify(json))
    await syncDir(dir)
    await removeStale(dir, new Set(shards.map((s) => s.name)), previous)
  } catch (error) {
    if (error instanceof ModelFileError) throw error
    throw new ModelFileError(
      'SAVE_FAILED',
      current,
      `saveModel: could not write ${current} (${errorText(error)}); the model previously saved in ${dir}, if any, is intact.`,
      { cause: error },
    )
  }
}

/** Removes the previous model's weight files and what crashed saves left behind; never fails the save. */
async function removeStale(dir: string, keep: Set<string>, previous: string[]): Promise<void> {
  let entries: string[] = []
  try {
    entries = await readdir(dir)
  } catch {
    return
  }
  const previousSet = new Set(previous)
  const stale = entries.filter(
    (name) => !keep.has(name) && (previousSet.has(name) || SHARD_NAME.test(name) || name.startsWith(TEMP_PREFIX)),
  )
  await Promise.all(stale.map((name) => rm(join(dir, name), { force: true }).catch(() => undefined)))
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * The loss to compile with. Needed to restore the optimizer state of a model that was compiled with a loss
   * function (tfjs records only built-in loss names); overrides the recorded loss otherwise.
   */
  loss?: tfl.ModelCompileArgs['loss']
  /** Metrics to compile with, alongside `loss`. */
  metrics?: tfl.ModelCompileArgs['metrics']
}

/** Whether tfjs could name the loss when it saved the training config (a loss function saves as `{}`). */
function lossIsNamed(config: tf.io.TrainingConfig): boolean {
  const loss = config.loss as unknown
  if (typeof loss === 'string') return true
  if (Array.isArray(loss)) return loss.length > 0 && loss.every((l) => typeof l === 'string')
  return loss !== null && typeof loss === 'object' && Object.keys(loss).length > 0
}

/** Compiles `model` with the saved optimizer (its class, settings and state) and the caller's loss. */
async function restoreTraining(
  model: tfl.LayersModel,
  config: tf.io.TrainingConfig,
  artifacts: tf.io.ModelArtifacts,
  options: LoadModelOptions,
  jsonPath: string,
): Promise<void> {
  const { class_name: className, config: settings } = config.optimizer_config as { class_name: string; config: tf.serialization.ConfigDict }
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className]
  if (entry === undefined) {
    throw new ModelFileError('MODEL_JSON_INVALID', jsonPath, `loadModel: ${jsonPath} names an unknown optimizer '${className}'.`)
  }
  const [cls, fromConfig] = entry
  const optimizer = fromConfig(cls, settings) as unknown as tf.Optimizer
  model.compile({ optimizer, loss: options.loss as tfl.ModelCompileArgs['loss'], ...(options.metrics ? { metrics: options.metrics } : {}) })
  const specs = artifacts.weightSpecs ?? []
  if (!specs.some((s) => s.group === 'optimizer')) return
  const decoded = tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, specs)
  try {
    await optimizer.setWeights(specs.filter((s) => s.group === 'optimizer').map((s) => ({ name: s.name, tensor: decoded[s.name] as tf.Tensor })))
  } finally {
    tf.dispose(Object.values(decoded))
  }
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 }

function expectedBytes(specs: tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0
  for (const spec of specs) {
    const dtype = spec.quantization?.dtype ?? spec.dtype
    const size = BYTES_PER_ELEMENT[dtype]
    if (size === undefined) return undefined // strings have no fixed size
    total += spec.shape.reduce((a, b) => a * b, 1) * size
  }
  return total
}

/**
 * Loads a model saved by {@link saveModel} (or any tfjs layers model on disk: tfjs-node's `model.save('file://…')`,
 * tfjs-converter output). Checks the files before building the model, so a truncated, missing or swapped
 * weight file is reported by name instead of yielding a wrong model.
 *
 * @param path - the model's folder, or its `model.json`, as a path or a `file://` URL
 * @param options - `loss` (and `metrics`) to compile with when the model was saved with its optimizer and
 *   trained with a loss function, which tfjs cannot name in the file
 * @returns the model; compiled, with its optimizer state, when it was saved with `includeOptimizer`
 * @throws {ModelFileError} `MODEL_JSON_MISSING`, `MODEL_JSON_INVALID`, `WEIGHTS_MISSING`, `WEIGHTS_SIZE_MISMATCH`,
 *   `WEIGHTS_CHECKSUM_MISMATCH` or `MODEL_WEIGHTS_MISMATCH`, with `file` naming the culprit
 * @example
 * ```ts
 * const model = await loadModel('runs/1/model')
 * model.predict(tf.zeros([1, 128, 128, 1]))
 * ```
 */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<tfl.LayersModel> {
  const local = toPath(path)
  const jsonPath = local.endsWith('.json') ? local : join(local, MODEL_JSON)
  const dir = resolve(jsonPath, '..')
  let text: string
  try {
    text = await readFile(jsonPath, 'utf8')
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ENOENT'
    throw new ModelFileError(
      missing ? 'MODEL_JSON_MISSING' : 'MODEL_JSON_INVALID',
      jsonPath,
      missing
        ? `loadModel: no ${MODEL_JSON} at ${jsonPath}; pass the folder saveModel wrote (or the model.json itself).`
        : `loadModel: cannot read ${jsonPath} (${errorText(error)}).`,
      { cause: error },
    )
  }
  let json: tf.io.ModelJSON
  try {
    json = JSON.parse(text) as tf.io.ModelJSON
  } catch (error) {
    throw new ModelFileError(
      'MODEL_JSON_INVALID',
      jsonPath,
      `loadModel: ${jsonPath} is not valid JSON (${errorText(error)}); it is truncated or not a model file — save the model again.`,
      { cause: error },
    )
  }
  if (json === null || typeof json !== 'object' || json.modelTopology == null || !Array.isArray(json.weightsManifest)) {
    throw new ModelFileError(
      'MODEL_JSON_INVALID',
      jsonPath,
      `loadModel: ${jsonPath} is not a TensorFlow.js layers model (it needs "modelTopology" and a "weightsManifest" list).`,
    )
  }

  const specs: tf.io.WeightsManifestEntry[] = []
  const files: { file: string; bytes: Uint8Array }[] = []
  for (const group of json.weightsManifest) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
      throw new ModelFileError('MODEL_JSON_INVALID', jsonPath, `loadModel: a weightsManifest entry in ${jsonPath} lacks "paths" or "weights".`)
    }
    specs.push(...group.weights)
    for (const relative of group.paths) {
      const file = normalize(join(dir, relative))
      if (isAbsolute(relative) || /^[a-z]+:\/\//i.test(relative) || !file.startsWith(dir + sep)) {
        throw new ModelFileError('MODEL_JSON_INVALID', jsonPath, `loadModel: weight path '${relative}' in ${jsonPath} points outside ${dir}.`)
      }
      try {
        files.push({ file, bytes: await readFile(file) })
      } catch (error) {
        throw new ModelFileError(
          'WEIGHTS_MISSING',
          file,
          `loadModel: cannot read weight file ${file}, listed in ${jsonPath} (${errorText(error)}); copy the whole model folder.`,
          { cause: error },
        )
      }
    }
  }

  const expected = expectedBytes(specs)
  const found = files.reduce((sum, f) => sum + f.bytes.byteLength, 0)
  if (expected !== undefined && expected !== found) {
    const list = files.map((f) => `${basename(f.file)} (${f.bytes.byteLength} bytes)`).join(', ')
    const culprit = files[files.length - 1]?.file ?? jsonPath
    throw new ModelFileError(
      'WEIGHTS_SIZE_MISMATCH',
      culprit,
      `loadModel: ${jsonPath} describes ${expected} bytes of weights but its files hold ${found}: ${list || 'none'}. ` +
        `A weight file is ${found < expected ? 'truncated' : 'from another model'}; save the model again.`,
    )
  }
  for (const { file, bytes } of files) {
    const match = SHARD_NAME.exec(basename(file))
    if (match && digest(bytes) !== match[3]) {
      throw new ModelFileError(
        'WEIGHTS_CHECKSUM_MISMATCH',
        file,
        `loadModel: ${file} does not hold the bytes ${jsonPath} was saved with (its content hash differs); ` +
          `it was changed or replaced after saving — save the model again.`,
      )
    }
  }

  const weightData = new Uint8Array(found)
  let offset = 0
  for (const { bytes } of files) {
    weightData.set(bytes, offset)
    offset += bytes.byteLength
  }
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    weightSpecs: specs,
    weightData: weightData.buffer,
  }
  const training = json.trainingConfig
  // tfjs compiles from the training config itself, but only with a loss it can name; otherwise we do it.
  const compileHere = training != null && (options.loss !== undefined || !lossIsNamed(training))
  if (training != null && !compileHere) artifacts.trainingConfig = training
  if (json.userDefinedMetadata != null) artifacts.userDefinedMetadata = json.userDefinedMetadata
  let model: tfl.LayersModel | undefined
  try {
    model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts))
    if (compileHere && options.loss !== undefined) await restoreTraining(model, training, artifacts, options, jsonPath)
    return model
  } catch (error) {
    model?.dispose()
    if (error instanceof ModelFileError) throw error
    throw new ModelFileError(
      'MODEL_WEIGHTS_MISMATCH',
      jsonPath,
      `loadModel: cannot build the model in ${jsonPath} from its weights (${errorText(error)}); ` +
        `the topology and the weights disagree, or a custom layer is not registered.`,
      { cause: error },
    )
  }
}
