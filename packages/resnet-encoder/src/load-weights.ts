import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { ResnetEncoderError } from './errors'
import { readKerasH5Weights, isHdf5 } from './keras-h5'
import { readSafetensors } from './safetensors'

/** What {@link loadEncoderWeights} did. */
export interface LoadEncoderWeightsResult {
  /** The format read. */
  format: 'safetensors' | 'keras-h5'
  /** The encoder layers whose weights were set, in model order. */
  loaded: string[]
  /** File tensors that were not needed (the classifier `fc.*`, `num_batches_tracked`). */
  ignored: string[]
}

/** One tensor of the model to fill, with the file key it comes from. */
interface Target {
  layer: string
  key: string
  /** The variable's shape (HWIO for kernels). */
  shape: number[]
  /** The file stores conv kernels OIHW (PyTorch) and they need transposing. */
  torchKernel: boolean
}

/** Source tensors by key, as a reader gives them. */
export interface SourceTensor {
  shape: number[]
  values(): Float32Array
}

const ENCODER_LAYER = /^(conv1|bn1|layer[1-4]_\d+_[a-z0-9_]+)$/
const IGNORED_KEY = /(^|\.)(fc\.(weight|bias)|num_batches_tracked)$/

const BN_KEYS: Record<string, string> = { gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var' }

/** The file key and layout of each weight of the model's encoder layers (torchvision/timm names). */
function torchTargets(model: LayersModel, prefix: string): Target[] {
  const targets: Target[] = []
  for (const layer of model.layers) {
    if (!ENCODER_LAYER.test(layer.name) || layer.weights.length === 0) continue
    const path = prefix + layer.name.replace(/_/g, '.')
    const isBn = layer.getClassName() === 'BatchNormalization'
    for (const weight of layer.weights) {
      const kind = weight.originalName.split('/').pop()!
      const key = isBn ? `${path}.${BN_KEYS[kind] ?? kind}` : `${path}.${kind === 'kernel' ? 'weight' : kind}`
      targets.push({ layer: layer.name, key, shape: [...weight.shape] as number[], torchKernel: kind === 'kernel' })
    }
  }
  return targets
}

/** OIHW → HWIO: PyTorch's conv weight to TensorFlow's kernel. */
function oihwToHwio(values: Float32Array, [o, i, h, w]: number[]): Float32Array {
  const out = new Float32Array(values.length)
  for (let a = 0; a < o!; a++)
    for (let b = 0; b < i!; b++)
      for (let y = 0; y < h!; y++)
        for (let x = 0; x < w!; x++) out[((y * w! + x) * i! + b) * o! + a] = values[((a * i! + b) * h! + y) * w! + x]!
  return out
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`

async function readBytes(source: string | URL | Uint8Array | ArrayBuffer): Promise<{ bytes: Uint8Array; where: string }> {
  if (source instanceof Uint8Array) return { bytes: source, where: 'weights bytes' }
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), where: 'weights bytes' }
  const path = source instanceof URL ? fileURLToPath(source) : source
  try {
    return { bytes: new Uint8Array(await readFile(path)), where: path }
  } catch (cause) {
    throw new ResnetEncoderError(
      'FILE_NOT_FOUND',
      `loadEncoderWeights: cannot read '${path}' (${(cause as Error).message}); pass a .safetensors file (torchvision/timm names) or a classification_models .h5 file`,
      { cause },
    )
  }
}

/**
 * Loads encoder weights into a model from {@link createEncoder}, or into a U-Net built with {@link resnetEncoder}
 * (its decoder is left alone):
 * - **safetensors** with torchvision/timm key names (`conv1.weight`, `layer1.0.bn1.running_mean`,
 *   `layer2.0.downsample.0.weight`, `layer1.0.se.fc1.weight`), as on the Hugging Face hub; a common prefix
 *   such as `encoder.` is found by itself; conv kernels are transposed OIHW → HWIO; F32, F16, BF16 or F64.
 * - **Keras h5** in the layout of qubvel's classification_models (`seresnet50_imagenet_1000_no_top.h5`, see
 *   the README for which files fit which topology).
 * Every tensor's shape is checked before anything is set: a missing, extra or misshapen tensor throws and the
 * model keeps its weights. The classifier (`fc.*`) and `num_batches_tracked` are ignored.
 *
 * @param model - the encoder model, or a U-Net holding the encoder's layers
 * @param source - a path or file URL, or the bytes of the file
 * @returns the format, the layers loaded, the keys ignored
 * @throws {ResnetEncoderError} `FILE_NOT_FOUND`, `BAD_FORMAT`, `MISSING_TENSOR`, `EXTRA_TENSOR`, `SHAPE_MISMATCH`
 *   (with `tensor` naming the first at fault), `NOT_AN_ENCODER` for a model without ResNet layers
 * @example
 * ```ts
 * const encoder = createEncoder('resnet34', { inputShape: [128, 128, 3] })
 * const { loaded } = await loadEncoderWeights(encoder, 'resnet34.safetensors')
 * ```
 */
export async function loadEncoderWeights(model: LayersModel, source: string | URL | Uint8Array | ArrayBuffer): Promise<LoadEncoderWeightsResult> {
  const has = (name: string) => model.layers.some((l) => l.name === name)
  const torchvision = has('conv1') && has('layer1_0_conv1')
  if (!torchvision && !(has('conv0') && has('stage1_unit1_conv1'))) {
    throw new ResnetEncoderError('NOT_AN_ENCODER', `loadEncoderWeights: model '${model.name}' has no ResNet layers (conv1, layer1_0_conv1); pass a model from createEncoder or a U-Net built with resnetEncoder`)
  }
  const { bytes, where } = await readBytes(source)
  if (isHdf5(bytes)) return loadKeras(model, bytes, where)
  if (!torchvision) {
    throw new ResnetEncoderError(
      'BAD_FORMAT',
      `loadEncoderWeights: ${where} is not HDF5, but model '${model.name}' is classification_models' pre-activation network, whose weights come as Keras .h5; ` +
        "for safetensors (torchvision/timm names) build the model with topology 'torchvision'",
    )
  }
  const file = readSafetensors(bytes, where)
  // a common prefix such as 'encoder.' or 'model.' (segmentation_models.pytorch, wrapped checkpoints)
  const stem = [...file.keys()].find((key) => key === 'conv1.weight' || key.endsWith('.conv1.weight') && !/layer\d/.test(key))
  const prefix = stem === undefined ? '' : stem.slice(0, -'conv1.weight'.length)
  const targets = torchTargets(model, prefix)
  const wanted = new Set(targets.map((t) => t.key))
  const ignored: string[] = []
  const extra: string[] = []
  for (const key of file.keys()) {
    if (wanted.has(key)) continue
    if (IGNORED_KEY.test(key) || !key.startsWith(prefix)) ignored.push(key)
    else extra.push(key)
  }
  const missing = targets.filter((t) => !file.has(t.key)).map((t) => t.key)
  if (missing.length > 0) {
    throw new ResnetEncoderError(
      'MISSING_TENSOR',
      `loadEncoderWeights: ${where} has no tensor ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` (and ${missing.length - 3} more)` : ''} ` +
        `that model '${model.name}' needs (nothing was loaded); use weights of the same encoder with torchvision/timm key names`,
      { tensor: missing[0]! },
    )
  }
  if (extra.length > 0) {
    throw new ResnetEncoderError(
      'EXTRA_TENSOR',
      `loadEncoderWeights: ${where} holds ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ` (and ${extra.length - 3} more)` : ''}, ` +
        `which model '${model.name}' has no place for (nothing was loaded); the file is probably of a deeper or SE encoder`,
      { tensor: extra[0]! },
    )
  }
  for (const target of targets) {
    const stored = file.get(target.key)!
    const want = target.torchKernel ? [target.shape[3]!, target.shape[2]!, target.shape[0]!, target.shape[1]!] : target.shape
    if (shapeText(stored.shape) !== shapeText(want)) {
      throw new ResnetEncoderError(
        'SHAPE_MISMATCH',
        `loadEncoderWeights: ${where}: tensor ${target.key} is ${shapeText(stored.shape)} but layer ${target.layer} of model '${model.name}' needs ` +
          `${shapeText(want)}${target.torchKernel ? ` (OIHW of its HWIO kernel ${shapeText(target.shape)})` : ''} (nothing was loaded); use weights of the same encoder`,
        { tensor: target.key },
      )
    }
  }
  const layers = new Map<string, Float32Array[]>()
  for (const target of targets) {
    const stored = file.get(target.key)!
    const values = target.torchKernel ? oihwToHwio(stored.values(), stored.shape) : stored.values()
    layers.set(target.layer, [...(layers.get(target.layer) ?? []), values])
  }
  setLayers(model, layers)
  return { format: 'safetensors', loaded: [...layers.keys()], ignored }
}

/** Sets each layer's weights, in the layer's own weight order, from checked values. */
export function setLayers(model: LayersModel, layers: Map<string, Float32Array[]>): void {
  for (const [name, values] of layers) {
    const layer = model.getLayer(name)
    tf.tidy(() => layer.setWeights(layer.weights.map((w, i) => tf.tensor(values[i]!, w.shape as number[]))))
  }
}

async function loadKeras(model: LayersModel, bytes: Uint8Array, where: string): Promise<LoadEncoderWeightsResult> {
  const layers = readKerasH5Weights(model, bytes, where)
  setLayers(model, layers.values)
  return { format: 'keras-h5', loaded: [...layers.values.keys()], ignored: layers.ignored }
}
