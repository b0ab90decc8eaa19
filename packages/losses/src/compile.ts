import type * as tf from '@tensorflow/tfjs-core'
import type { LayersModel, ModelCompileArgs } from '@tensorflow/tfjs-layers'
import { LossError } from './errors'
import type { LossFunction, LossSpec } from './math'
import { getLoss, lossFromSpec, type LossName } from './registry'

/** Key of the model's user-defined metadata (saved in model.json) under which the loss spec is kept. */
export const LOSS_METADATA_KEY = 'unetLoss'

/** What {@link compileWithLoss} takes: `model.compile`'s arguments, with the loss given by name, spec or function. */
export interface CompileWithLossArgs extends Omit<ModelCompileArgs, 'loss'> {
  /** A registry name, a loss of this package, its JSON spec, or your own `(yTrue, yPred) → tensor`. */
  loss: LossName | LossFunction | LossSpec | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor)
}

function metadataOf(model: LayersModel): Record<string, unknown> {
  const metadata = model.getUserDefinedMetadata()
  return metadata !== null && typeof metadata === 'object' ? { ...(metadata as Record<string, unknown>) } : {}
}

/**
 * Compiles `model` with a loss of this package and records the loss (its JSON spec) in the model's
 * user-defined metadata, which `model.save` writes into model.json. tfjs-layers itself can only
 * save the names of its built-in losses; with this, {@link compileFromTrainingConfig} restores ours
 * after a plain `tf.loadLayersModel`, with no custom objects.
 *
 * @param model - the model to compile
 * @param args - `model.compile`'s arguments; `loss` by name (`'lovasz_hinge'`), spec, or function
 * @returns the loss function the model was compiled with
 * @example
 * ```ts
 * compileWithLoss(model, { optimizer: tf.train.adam(1e-3), loss: 'bce_dice' })
 * await model.save(handler, { includeOptimizer: true })
 * ```
 */
export function compileWithLoss(model: LayersModel, args: CompileWithLossArgs): LossFunction | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor) {
  const { loss: given, ...rest } = args
  const loss =
    typeof given === 'string' ? getLoss(given) : typeof given === 'function' ? given : lossFromSpec(given as LossSpec)
  model.compile({ ...rest, loss: loss as ModelCompileArgs['loss'] })
  const metadata = metadataOf(model)
  const spec = (loss as Partial<LossFunction>).spec
  if (spec !== undefined) metadata[LOSS_METADATA_KEY] = spec
  else delete metadata[LOSS_METADATA_KEY]
  model.setUserDefinedMetadata(metadata)
  return loss
}

/**
 * The loss spec a model was saved with by {@link compileWithLoss}, if any.
 *
 * @param model - a model, typically fresh from `tf.loadLayersModel`
 * @returns the spec (`{ name, options }`), or `undefined`
 * @example
 * ```ts
 * savedLossSpec(await tf.loadLayersModel(url))?.name // 'lovasz_hinge'
 * ```
 */
export function savedLossSpec(model: LayersModel): LossSpec | undefined {
  return lossFromMetadata(metadataOf(model))?.spec
}

/**
 * The loss recorded by {@link compileWithLoss} in a model's user-defined metadata — from a model
 * (`model.getUserDefinedMetadata()`) or straight from a model.json's `userDefinedMetadata`, e.g. to pass
 * as the `loss` of `@unet/runtime`'s `loadModel`, which then restores the optimizer state too.
 *
 * @param metadata - user-defined metadata, or anything else (then the result is `undefined`)
 * @returns the rebuilt loss, or `undefined` when the metadata records none
 * @example
 * ```ts
 * const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'))
 * const model = await loadModel(dir, { loss: lossFromMetadata(json.userDefinedMetadata) })
 * ```
 */
export function lossFromMetadata(metadata: unknown): LossFunction | undefined {
  if (metadata === null || typeof metadata !== 'object') return undefined
  const spec = (metadata as Record<string, unknown>)[LOSS_METADATA_KEY]
  if (spec === null || typeof spec !== 'object' || typeof (spec as LossSpec).name !== 'string') return undefined
  return lossFromSpec(spec as LossSpec)
}

/** Options of {@link compileFromTrainingConfig}. */
export interface CompileFromTrainingConfigOptions {
  /** Optimizer to use instead of the one saved with the model (needed when it was saved without `includeOptimizer`). */
  optimizer?: ModelCompileArgs['optimizer']
  /** Metrics to compile with. */
  metrics?: ModelCompileArgs['metrics']
}

/**
 * Compiles a loaded model again with the loss it was saved with ({@link compileWithLoss}) and the
 * optimizer tfjs restored from its training config (state included), so training resumes where it
 * stopped. `tf.loadLayersModel` itself needs no custom objects: tfjs saves a function loss as an
 * empty entry, loads the model, warns that the output has no loss, and leaves it to this call.
 *
 * @param model - a model from `tf.loadLayersModel` (or `@unet/runtime`'s `loadModel`)
 * @param options - an optimizer when the model was saved without one; metrics
 * @returns the loss function the model is now compiled with
 * @throws {LossError} `NO_LOSS_RECORDED` when the model carries no loss spec; `INVALID_OPTION` when there is no optimizer
 * @example
 * ```ts
 * const model = await tf.loadLayersModel(url)
 * compileFromTrainingConfig(model) // compiled with the saved loss and optimizer again
 * await model.fit(xs, ys)
 * ```
 */
export function compileFromTrainingConfig(model: LayersModel, options: CompileFromTrainingConfigOptions = {}): LossFunction {
  const spec = savedLossSpec(model)
  if (spec === undefined) {
    throw new LossError(
      'NO_LOSS_RECORDED',
      `Model "${model.name}" carries no @unet/losses loss in its metadata ("${LOSS_METADATA_KEY}"); ` +
        'compile it with compileWithLoss before saving, or call model.compile({ loss }) yourself.',
    )
  }
  const optimizer = options.optimizer ?? (model.optimizer as ModelCompileArgs['optimizer'] | undefined)
  if (optimizer === undefined || optimizer === null) {
    throw new LossError(
      'INVALID_OPTION',
      `Model "${model.name}" was saved without its optimizer (save with { includeOptimizer: true }); pass { optimizer } to compileFromTrainingConfig.`,
    )
  }
  const loss = lossFromSpec(spec)
  model.compile({ optimizer, loss, ...(options.metrics !== undefined ? { metrics: options.metrics } : {}) })
  return loss
}
