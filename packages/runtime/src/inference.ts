import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'

import { InferenceModelError } from './errors'

/** One convolution of the predict-only model and what was merged into it. */
export interface InferenceFold {
  /** The convolution layer (its name is kept). */
  conv: string
  /** The batch-norm layer folded into its kernel and bias, if any. */
  batchNorm?: string
  /** The ReLU layer turned into the convolution's own activation, if any. */
  relu?: string
}

/** What {@link createInferenceModel} does to a model, layer by layer. */
export interface InferencePlan {
  /** Convolutions that absorb a batch norm, a ReLU or both. */
  folds: InferenceFold[]
  /** Batch-norm layers left as they are, each with the reason. */
  keptBatchNorms: Array<{ layer: string; reason: string }>
}

/** A layer entry of a model's Keras JSON (`model.toJSON()`), as much as this module reads of it. */
interface LayerJson {
  name?: string
  class_name: string
  config: Record<string, unknown> & { name: string }
  /** Functional models only: one entry per call of the layer, each a list of `[layer, node, tensor, kwargs]`. */
  inbound_nodes?: unknown[][][]
}

interface TopologyJson {
  class_name: string
  config: { name?: string; layers: LayerJson[]; input_layers?: unknown[]; output_layers?: unknown[][] } | LayerJson[]
  [key: string]: unknown
}

/** Convolutions whose output channels a batch norm can scale, with the axis of their kernel that holds them. */
const CONVOLUTIONS: Record<string, { kernel: string; outAxis: (shape: number[]) => { inner: number; channels: number } }> = {
  // [kh, kw, in, out]: the output channel is the fastest-moving index.
  Conv2D: { kernel: 'kernel', outAxis: (s) => ({ inner: 1, channels: s[3]! }) },
  // tfjs lays a transposed convolution's kernel out as [kh, kw, out, in].
  Conv2DTranspose: { kernel: 'kernel', outAxis: (s) => ({ inner: s[3]!, channels: s[2]! }) },
  // [kh, kw, in, multiplier]: output channel c·multiplier + m, i.e. the last two axes flattened.
  DepthwiseConv2D: { kernel: 'depthwise_kernel', outAxis: (s) => ({ inner: 1, channels: s[2]! * s[3]! }) },
  // The pointwise kernel [1, 1, in·multiplier, out] makes the output channels.
  SeparableConv2D: { kernel: 'pointwise_kernel', outAxis: (s) => ({ inner: 1, channels: s[3]! }) },
}

function isRelu(layer: LayerJson): boolean {
  const c = layer.config
  if (layer.class_name === 'Activation') return c.activation === 'relu'
  if (layer.class_name === 'ReLU') {
    return (c.max_value === null || c.max_value === undefined) && !c.negative_slope && !c.threshold
  }
  return false
}

/** A reference to a layer's output inside `inbound_nodes` / `output_layers`: `[layer, node, tensor, …]`. */
function refName(ref: unknown): string | undefined {
  return Array.isArray(ref) && typeof ref[0] === 'string' ? ref[0] : undefined
}

function layerName(layer: LayerJson): string {
  return layer.name ?? layer.config.name
}

/** The model's layers and, for each layer, the layers that read it and how often (outputs count as readers). */
function graphOf(topology: TopologyJson): {
  layers: LayerJson[]
  sequential: boolean
  readers: Map<string, string[]>
  sources: Map<string, string[] | null>
} {
  const sequential = topology.class_name === 'Sequential'
  const layers = Array.isArray(topology.config) ? topology.config : topology.config.layers
  const readers = new Map<string, string[]>()
  // The single layer a layer reads, or null when it is called more than once or reads several tensors.
  const sources = new Map<string, string[] | null>()
  const read = (from: string, by: string) => readers.set(from, [...(readers.get(from) ?? []), by])
  if (sequential) {
    layers.forEach((layer, i) => {
      const previous = layers[i - 1]
      sources.set(layerName(layer), previous === undefined ? [] : [layerName(previous)])
      if (previous !== undefined) read(layerName(previous), layerName(layer))
    })
    const last = layers[layers.length - 1]
    if (last !== undefined) read(layerName(last), '(model output)')
  } else {
    for (const layer of layers) {
      const nodes = layer.inbound_nodes ?? []
      for (const node of nodes) for (const ref of node) {
        const from = refName(ref)
        if (from !== undefined) read(from, layerName(layer))
      }
      const only = nodes.length === 1 ? nodes[0]! : null
      sources.set(
        layerName(layer),
        nodes.length === 0 ? [] : only !== null && only.every((r) => refName(r) !== undefined && (r as unknown[])[1] === 0 && (r as unknown[])[2] === 0)
          ? only.map((r) => refName(r)!)
          : null,
      )
    }
    const outputs = (topology.config as { output_layers?: unknown[][] }).output_layers ?? []
    for (const ref of outputs) {
      const from = refName(ref)
      if (from !== undefined) read(from, '(model output)')
    }
  }
  return { layers, sequential, readers, sources }
}

/** Plans the folds on a model's Keras JSON; returns the plan and the layers each fold removes. */
function planFolds(topology: TopologyJson): InferencePlan {
  const { layers, readers, sources } = graphOf(topology)
  const byName = new Map(layers.map((l) => [layerName(l), l]))
  const folds: InferenceFold[] = []
  const keptBatchNorms: InferencePlan['keptBatchNorms'] = []
  const absorbed = new Set<string>()
  const onlyReader = (name: string): LayerJson | undefined => {
    const r = readers.get(name) ?? []
    return r.length === 1 ? byName.get(r[0]!) : undefined
  }
  const readsOnly = (layer: LayerJson, from: string): boolean => {
    const src = sources.get(layerName(layer))
    return src !== null && src !== undefined && src.length === 1 && src[0] === from
  }
  for (const bn of layers) {
    if (bn.class_name !== 'BatchNormalization') continue
    const name = layerName(bn)
    const src = sources.get(name)
    const keep = (reason: string) => keptBatchNorms.push({ layer: name, reason })
    if (src === null || src === undefined || src.length > 1) {
      keep('it is called more than once or on several inputs')
      continue
    }
    const conv = src.length === 0 ? undefined : byName.get(src[0]!)
    if (conv === undefined || CONVOLUTIONS[conv.class_name] === undefined) {
      keep(`its input comes from ${conv === undefined ? 'the model input' : `'${layerName(conv)}' (${conv.class_name})`}, not a convolution`)
      continue
    }
    const axis = bn.config.axis
    if (!(axis === -1 || (Array.isArray(axis) && axis.length === 1 && axis[0] === -1) || axis === 3)) {
      keep(`it normalizes axis ${JSON.stringify(axis)}, not the channels (-1)`)
      continue
    }
    if ((conv.config.data_format ?? 'channels_last') !== 'channels_last') {
      keep(`its convolution '${layerName(conv)}' is channels-first`)
      continue
    }
    if ((conv.config.activation ?? 'linear') !== 'linear') {
      keep(`its convolution '${layerName(conv)}' applies '${String(conv.config.activation)}' before it`)
      continue
    }
    const convSources = sources.get(layerName(conv))
    if (convSources === null || onlyReader(layerName(conv)) !== bn) {
      keep(`the output of '${layerName(conv)}' is also read elsewhere, or the convolution is called more than once`)
      continue
    }
    folds.push({ conv: layerName(conv), batchNorm: name })
    absorbed.add(name)
  }
  // ReLUs: after a folded batch norm, or straight after a linear convolution.
  const foldOf = new Map(folds.map((f) => [f.batchNorm!, f]))
  for (const relu of layers) {
    if (!isRelu(relu)) continue
    const src = sources.get(layerName(relu))
    if (src === null || src === undefined || src.length !== 1) continue
    const from = src[0]!
    if (onlyReader(from) !== relu || !readsOnly(relu, from)) continue
    const viaBn = foldOf.get(from)
    if (viaBn !== undefined) {
      viaBn.relu = layerName(relu)
      continue
    }
    const conv = byName.get(from)
    if (
      conv !== undefined &&
      CONVOLUTIONS[conv.class_name] !== undefined &&
      (conv.config.activation ?? 'linear') === 'linear' &&
      sources.get(from) !== null &&
      !absorbed.has(from)
    ) {
      folds.push({ conv: from, relu: layerName(relu) })
    }
  }
  return { folds, keptBatchNorms }
}

function modelJson(model: tfl.LayersModel): TopologyJson {
  if (!(model instanceof tfl.LayersModel)) {
    throw new InferenceModelError('MODEL_UNSUPPORTED', 'createInferenceModel: expected a tfjs LayersModel (tf.model(…), tf.sequential(…) or loadModel(…)).')
  }
  return model.toJSON(null, false) as unknown as TopologyJson
}

/**
 * Says which batch norms and ReLUs {@link createInferenceModel} would fold into which convolutions, and why
 * the other batch norms stay, without building anything.
 *
 * @param model - a trained layers model
 * @returns the folds and the batch norms kept, with reasons
 * @example
 * ```ts
 * const { folds, keptBatchNorms } = inferencePlan(model)
 * console.log(`${folds.length} convolutions absorb a batch norm or ReLU; kept: ${keptBatchNorms.map((k) => k.layer)}`)
 * ```
 */
export function inferencePlan(model: tfl.LayersModel): InferencePlan {
  return planFolds(modelJson(model))
}

/** `gamma / sqrt(var + eps)` and `beta − mean · that`, per channel, in float64, from a batch norm layer. */
function batchNormAffine(layer: tfl.layers.Layer, channels: number): { scale: Float64Array; shift: Float64Array } {
  const config = layer.getConfig() as { epsilon?: number }
  const epsilon = config.epsilon ?? 1e-3
  const find = (suffix: string): Float32Array | undefined => {
    const v = layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`))
    return v === undefined ? undefined : (v.read().dataSync() as Float32Array)
  }
  const gamma = find('gamma')
  const beta = find('beta')
  const mean = find('moving_mean')
  const variance = find('moving_variance')
  if (mean === undefined || variance === undefined || mean.length !== channels || variance.length !== channels) {
    throw new InferenceModelError(
      'MODEL_UNSUPPORTED',
      `createInferenceModel: batch norm '${layer.name}' has no moving mean/variance of ${channels} channels; build the model (call it once) first.`,
    )
  }
  const scale = new Float64Array(channels)
  const shift = new Float64Array(channels)
  for (let c = 0; c < channels; c++) {
    const s = (gamma === undefined ? 1 : gamma[c]!) / Math.sqrt(variance[c]! + epsilon)
    scale[c] = s
    shift[c] = (beta === undefined ? 0 : beta[c]!) - mean[c]! * s
  }
  return { scale, shift }
}

/**
 * Builds a predict-only copy of a trained model, faster on every backend: each batch normalization that
 * directly follows a convolution (`Conv2D`, `Conv2DTranspose`, `DepthwiseConv2D`, `SeparableConv2D`) and
 * is its only reader is folded into that convolution's kernel and bias (`W·γ/σ`, `(b − μ)·γ/σ + β`, with the
 * moving mean and variance), and a ReLU (`Activation('relu')` or a plain `ReLU` layer) that is the only
 * reader of such a convolution (or of its folded batch norm) becomes the convolution's own activation, so
 * that `Conv2D` runs as one fused kernel (`FusedConv2D` with bias and ReLU, as tfjs-backend-wasm, WebGL and
 * `@unet/runtime-native` implement it). Every other layer is kept with its weights, as are batch norms fed
 * from anything else or whose convolution's output is read elsewhere ({@link inferencePlan} lists them).
 *
 * The copy uses only standard tfjs layers, so {@link saveModel} writes it in the usual layers format and a
 * browser loads it with `tf.loadLayersModel` and no custom code. Its outputs equal the original's in
 * inference mode (`predict`) to float32 rounding; it cannot be trained (batch statistics are gone).
 * The original model is not changed; the copy shares no variables with it.
 *
 * @param model - a trained layers model (functional or sequential), channels-last
 * @returns the predict-only model, uncompiled, with the same name, inputs and output shapes
 * @throws {InferenceModelError} `MODEL_UNSUPPORTED` when `model` is not a layers model or is not built
 * @example
 * ```ts
 * const fast = await createInferenceModel(await loadModel('runs/1/model'))
 * await saveModel(fast, 'runs/1/inference') // loads in the browser like any tfjs model
 * const masks = fast.predict(images) as tf.Tensor
 * ```
 */
export async function createInferenceModel(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  const topology = modelJson(model)
  const plan = planFolds(topology)
  const { layers, sequential } = graphOf(topology)
  const foldByConv = new Map(plan.folds.map((f) => [f.conv, f]))
  const removed = new Map<string, string>() // removed layer → the conv whose output replaces it
  for (const f of plan.folds) {
    if (f.batchNorm !== undefined) removed.set(f.batchNorm, f.conv)
    if (f.relu !== undefined) removed.set(f.relu, f.conv)
  }
  const rename = (ref: unknown): unknown => {
    if (!Array.isArray(ref)) return ref
    const to = removed.get(ref[0] as string)
    return to === undefined ? ref : [to, ...ref.slice(1)]
  }
  const kept: LayerJson[] = []
  for (const layer of layers) {
    if (removed.has(layerName(layer))) continue
    const copy: LayerJson = { ...layer, config: { ...layer.config } }
    const fold = foldByConv.get(layerName(layer))
    if (fold !== undefined) {
      if (fold.batchNorm !== undefined) copy.config.use_bias = true
      if (fold.relu !== undefined) copy.config.activation = 'relu'
    }
    if (copy.inbound_nodes !== undefined) copy.inbound_nodes = copy.inbound_nodes.map((node) => node.map(rename) as unknown[][])
    kept.push(copy)
  }
  let newTopology: TopologyJson
  if (sequential) {
    newTopology = { ...topology, config: Array.isArray(topology.config) ? kept : { ...topology.config, layers: kept } }
  } else {
    const config = topology.config as Exclude<TopologyJson['config'], LayerJson[]>
    newTopology = { ...topology, config: { ...config, layers: kept, output_layers: (config.output_layers ?? []).map((r) => rename(r) as unknown[]) } }
  }
  const inference = await tfl.models.modelFromJSON({ modelTopology: newTopology as unknown as tf.io.ModelJSON['modelTopology'] })

  for (const layer of inference.layers) {
    const source = model.getLayer(layer.name)
    const fold = foldByConv.get(layer.name)
    if (fold === undefined || fold.batchNorm === undefined) {
      // Copies, so that disposing either model leaves the other intact.
      const values = tf.tidy(() => source.getWeights().map((w) => w.clone()))
      layer.setWeights(values)
      tf.dispose(values)
      continue
    }
    const spec = CONVOLUTIONS[source.getClassName()]!
    const names = source.weights.map((w) => w.originalName.slice(w.originalName.lastIndexOf('/') + 1))
    const kernelIndex = names.indexOf(spec.kernel)
    const biasIndex = names.indexOf('bias')
    const weights = source.getWeights()
    const kernel = weights[kernelIndex]!
    const { inner, channels } = spec.outAxis(kernel.shape)
    const { scale, shift } = batchNormAffine(model.getLayer(fold.batchNorm), channels)
    const k = kernel.dataSync() as Float32Array
    const folded = new Float32Array(k.length)
    for (let i = 0; i < k.length; i++) folded[i] = k[i]! * scale[Math.floor(i / inner) % channels]!
    const oldBias = biasIndex >= 0 ? (weights[biasIndex]!.dataSync() as Float32Array) : undefined
    const bias = new Float32Array(channels)
    for (let c = 0; c < channels; c++) bias[c] = (oldBias === undefined ? 0 : oldBias[c]!) * scale[c]! + shift[c]!
    const values = tf.tidy(() =>
      layer.weights.map((w) => {
        const short = w.originalName.slice(w.originalName.lastIndexOf('/') + 1)
        if (short === spec.kernel) return tf.tensor(folded, kernel.shape, 'float32')
        if (short === 'bias') return tf.tensor1d(bias, 'float32')
        return weights[names.indexOf(short)]!.clone()
      }),
    )
    layer.setWeights(values)
    tf.dispose(values)
  }
  return inference
}
