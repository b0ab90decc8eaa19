import { clone, type Tensor } from '@tensorflow/tfjs-core'

import { isTrainingCall, layerPrototype, oneTensor } from './layer-patch'

/**
 * A batch norm followed by a ReLU, in training, as one pass forward and one backward (where a kernel for it is
 * registered): the ReLU's full-size output and gradient passes disappear. tfjs-layers runs the two as separate
 * layers (`BatchNormalization`, then `Activation('relu')`), so the batch-norm layer may return ReLU'd values only
 * when nothing but that ReLU reads its output. This module decides that per model, from the model's graph:
 *
 * - a `BatchNormalization` layer applied once, whose one outbound node is an `Activation` layer with `relu`
 *   inside the same model;
 * - whose output is not an output of the model or of a model nested in it (a fetch reads it as it is).
 *
 * Only while a model's training function (`fit`, `fitDataset`, `trainOnBatch`) or its `apply(…, { training:
 * true })` runs: the model is known there. A ReLU layer handed a tensor the batch norm already ReLU'd (see
 * {@link markReluApplied}) passes it on; a ReLU of a ReLU is the same values, so no reader can see a difference.
 */

/** The parts of a tfjs-layers layer (and node) the scan reads. */
interface LayerLike {
  getClassName(): string
  inboundNodes: Array<{ outputTensors: unknown[] }>
  outboundNodes: Array<{ outboundLayer: LayerLike }>
  /** Containers (models) only. */
  layers?: LayerLike[]
  outputs?: unknown[]
  /** `Activation` layers only. */
  activation?: { getClassName(): string }
  invokeCallHook?(inputs: unknown, kwargs: unknown): void
}

type Method = (this: LayerLike, ...args: unknown[]) => unknown

/** The batch-norm layers of the model whose training is running that may return ReLU'd values. */
let active: ReadonlySet<LayerLike> | null = null
const scans = new WeakMap<LayerLike, ReadonlySet<LayerLike>>()
/** Batch-norm outputs already ReLU'd. */
const relued = new WeakSet<Tensor>()
let patched = false

function isRelu(layer: LayerLike): boolean {
  return layer.getClassName() === 'Activation' && layer.activation?.getClassName() === 'relu'
}

/** Every layer of a model, nested models' included, and every tensor fetched from it or from a nested model. */
function collect(model: LayerLike, layers: Set<LayerLike>, fetched: Set<unknown>): void {
  for (const t of model.outputs ?? []) fetched.add(t)
  for (const layer of model.layers ?? []) {
    layers.add(layer)
    if (Array.isArray(layer.layers)) collect(layer, layers, fetched)
  }
}

/** The batch-norm layers of `model` whose output only a ReLU layer of the model reads. */
export function reluFusableLayers(model: LayerLike): ReadonlySet<LayerLike> {
  const known = scans.get(model)
  if (known !== undefined) return known
  const layers = new Set<LayerLike>()
  const fetched = new Set<unknown>()
  collect(model, layers, fetched)
  const fusable = new Set<LayerLike>()
  for (const layer of layers) {
    if (layer.getClassName() !== 'BatchNormalization' || layer.inboundNodes.length !== 1 || layer.outboundNodes.length !== 1) continue
    const outputs = layer.inboundNodes[0]!.outputTensors
    const reader = layer.outboundNodes[0]!.outboundLayer
    if (outputs.length === 1 && !fetched.has(outputs[0]) && layers.has(reader) && isRelu(reader)) fusable.add(layer)
  }
  scans.set(model, fusable)
  return fusable
}

/** Runs `run` with `model`'s fusable batch norms active; a model run inside another keeps the outer one's. */
function withModel<T>(model: LayerLike, run: () => T): T {
  if (active !== null) return run()
  active = reluFusableLayers(model)
  try {
    return run()
  } finally {
    active = null
  }
}

/** Whether a batch-norm layer may return ReLU'd values in the training now running. */
export function mayFuseRelu(layer: object): boolean {
  return active?.has(layer as LayerLike) ?? false
}

/** Records that a batch-norm layer returned `y` already ReLU'd. */
export function markReluApplied(y: Tensor): void {
  relued.add(y)
}

/**
 * Lets models' training tell the batch-norm layer which of its layers may fuse the ReLU after them, and lets a
 * ReLU layer pass on what a batch norm ReLU'd: `LayersModel`'s training function and training-mode `call`, and
 * `Activation`'s `call`. Global (tfjs-layers has one class each); patched once; does nothing when tfjs-layers is
 * not loaded.
 */
export function patchLayersForReluFusion(): void {
  if (patched) return
  const model = layerPrototype<Record<string, Method>>('Model')
  const activation = layerPrototype<Record<string, Method>>('Activation')
  if (model === null || activation === null) return
  patched = true
  const makeTrainFunction = model.makeTrainFunction!
  model.makeTrainFunction = function (this: LayerLike, ...args: unknown[]) {
    const train = makeTrainFunction.apply(this, args) as (...a: unknown[]) => unknown
    return (...a: unknown[]) => withModel(this, () => train(...a))
  }
  const call = model.call!
  model.call = function (this: LayerLike, ...args: unknown[]) {
    if (!isTrainingCall(args[1] as { training?: unknown } | undefined)) return call.apply(this, args)
    return withModel(this, () => call.apply(this, args))
  }
  const activationCall = activation.call!
  activation.call = function (this: LayerLike, ...args: unknown[]) {
    const inputs = args[0] as Tensor | Tensor[]
    const x = oneTensor(inputs)
    if (x !== null && relued.has(x) && isRelu(this)) {
      this.invokeCallHook?.(inputs, args[1])
      return clone(x)
    }
    return activationCall.apply(this, args)
  }
}
