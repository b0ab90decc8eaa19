import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import type * as tfl from '@tensorflow/tfjs-layers'
import { VGG16_CONV_LAYERS, vggKernelShape, type VggConvLayerName } from './architecture'
import { VggError } from './errors'
import { readKerasH5 } from './keras-h5'
import { readTfjsLayers } from './tfjs-layers'
import type { StoredArray, StoredWeights } from './weight-file'

/** Options of {@link loadVggWeights}. */
export interface LoadVggWeightsOptions {
  /**
   * Load the VGG-16 layers the file holds and leave the others as they are, instead of failing when one of the
   * 13 convolutions is missing. Default false.
   */
  allowMissing?: boolean
}

/** What {@link loadVggWeights} did. */
export interface LoadVggWeightsResult {
  /** 'keras-h5' for an HDF5 file, 'tfjs-layers' for a model.json and its shards. */
  format: 'keras-h5' | 'tfjs-layers'
  /** The convolutions whose kernel and bias were set, in encoder order. */
  loaded: VggConvLayerName[]
  /** VGG-16 convolutions the file did not hold (only with `allowMissing`). */
  missing: VggConvLayerName[]
  /** Layers of the file that are not VGG-16 convolutions (input, pools, a classifier head, a decoder), left unread. */
  ignored: string[]
}

const shapeText = (shape: readonly (number | null)[]): string => `[${shape.join(', ')}]`

async function readSource(source: string | URL | ArrayBuffer | Uint8Array): Promise<StoredWeights & { where: string }> {
  if (source instanceof URL) source = fileURLToPath(source)
  if (typeof source !== 'string') {
    const bytes = source instanceof Uint8Array ? source : new Uint8Array(source)
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    return { ...readKerasH5(buffer, 'HDF5 bytes'), where: 'HDF5 bytes' }
  }
  let isDirectory: boolean
  try {
    isDirectory = (await stat(source)).isDirectory()
  } catch (cause) {
    throw new VggError(
      'FILE_NOT_FOUND',
      `loadVggWeights: '${source}' does not exist; pass the Keras file vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5, ` +
        'a tfjs model.json or the folder holding it',
      { cause },
    )
  }
  if (isDirectory) {
    const modelJson = join(source, 'model.json')
    try {
      await stat(modelJson)
    } catch (cause) {
      throw new VggError(
        'FILE_NOT_FOUND',
        `loadVggWeights: folder '${source}' holds no model.json; pass a tfjs layers-format model folder or a Keras .h5 file`,
        { cause },
      )
    }
    return { ...(await readTfjsLayers(modelJson)), where: modelJson }
  }
  if (source.endsWith('.json')) return { ...(await readTfjsLayers(source)), where: source }
  const bytes = await readFile(source)
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  return { ...readKerasH5(buffer, source), where: source }
}

/** Picks a layer's kernel (rank 4) and bias (rank 1) from what the file holds under its name. */
function kernelAndBias(arrays: StoredArray[]): { kernel?: StoredArray; bias?: StoredArray } {
  if (arrays.length !== 2) return {}
  return { kernel: arrays.find((a) => a.shape.length === 4), bias: arrays.find((a) => a.shape.length === 1) }
}

/**
 * Fills the 13 VGG-16 convolutions of a model with weights from a file: the standard Keras ImageNet file
 * `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5` (or any Keras HDF5 weights file with the VGG-16 layer names),
 * read in TypeScript, or a tfjs layers-format `model.json` (or the folder holding it). Layers are matched by name
 * and every shape is checked against the model before any weight is set, so a file that does not fit leaves the
 * model as it was. Other layers of the file are ignored; the decoder keeps its weights.
 *
 * The ImageNet weights expect Keras' caffe preprocessing: keep the default `preprocess: 'caffe'` of `createVggUnet`
 * or apply `vggPreprocess` yourself.
 *
 * @param model - a model from `createVggUnet` (any model with the Keras VGG-16 layer names and shapes)
 * @param source - a path (or file URL) to a `.h5` file, a `model.json` or its folder; or the bytes of an HDF5 file
 * @param options - `allowMissing`: tolerate a file that holds only some of the 13 convolutions
 * @returns which layers were loaded, missing and ignored, and the format read
 * @throws VggError `FILE_NOT_FOUND` (no such file or folder), `BAD_FORMAT` (not HDF5 / not a Keras weights file /
 *   not a tfjs manifest), `SHAPE_MISMATCH` (a layer's arrays do not fit the model; all such layers listed),
 *   `MISSING_LAYER` (the file lacks VGG-16 convolutions), `UNKNOWN_LAYER` (the model lacks them)
 * @example
 * ```ts
 * const model = createVggUnet({ inputShape: [128, 128, 1], freezeUpTo: 'block4_pool' })
 * const { loaded } = await loadVggWeights(model, 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5')
 * console.log(`loaded ${loaded.length} layers`) // 13
 * ```
 */
export async function loadVggWeights(
  model: tfl.LayersModel,
  source: string | URL | ArrayBuffer | Uint8Array,
  options: LoadVggWeightsOptions = {},
): Promise<LoadVggWeightsResult> {
  const present = new Set(model.layers.map((layer) => layer.name))
  const absent = VGG16_CONV_LAYERS.filter((name) => !present.has(name))
  if (absent.length > 0) {
    throw new VggError(
      'UNKNOWN_LAYER',
      `loadVggWeights: model '${model.name}' has no layer ${absent.slice(0, 3).join(', ')}` +
        `${absent.length > 3 ? ` (and ${absent.length - 3} more)` : ''}; pass a model built by createVggUnet`,
    )
  }
  const stored = await readSource(source)
  const where = stored.where

  const mismatches: string[] = []
  const ready: { name: VggConvLayerName; kernel: StoredArray; bias: StoredArray }[] = []
  for (const name of VGG16_CONV_LAYERS) {
    const arrays = stored.layers.get(name)
    if (!arrays) continue
    const [kernelVariable, biasVariable] = model.getLayer(name).weights
    const wantKernel = kernelVariable?.shape ?? vggKernelShape(name)
    const wantBias = biasVariable?.shape ?? [wantKernel[3] as number]
    const { kernel, bias } = kernelAndBias(arrays)
    const fits =
      kernel &&
      bias &&
      shapeText(kernel.shape) === shapeText(wantKernel) &&
      shapeText(bias.shape) === shapeText(wantBias)
    if (!fits) {
      mismatches.push(
        `${name}: file holds ${arrays.map((a) => `${a.name} ${shapeText(a.shape)}`).join(', ') || 'no arrays'}; ` +
          `the model needs kernel ${shapeText(wantKernel)} and bias ${shapeText(wantBias)}`,
      )
      continue
    }
    ready.push({ name, kernel, bias })
  }
  if (mismatches.length > 0) {
    throw new VggError(
      'SHAPE_MISMATCH',
      `loadVggWeights: ${where} does not fit VGG-16 (nothing was loaded):\n  ${mismatches.join('\n  ')}\n` +
        'Use VGG-16 weights with a 3-channel first layer (the notop ImageNet file), or a model saved from createVggUnet',
    )
  }
  const missing = VGG16_CONV_LAYERS.filter((name) => !stored.layers.has(name))
  if (missing.length > 0 && !options.allowMissing) {
    throw new VggError(
      'MISSING_LAYER',
      `loadVggWeights: ${where} has no ${missing.join(', ')} (nothing was loaded); ` +
        `it holds ${stored.layers.size} of the 13 VGG-16 convolutions` +
        `${stored.ignored.length > 0 ? ` and other layers (${stored.ignored.slice(0, 5).join(', ')}${stored.ignored.length > 5 ? ', …' : ''})` : ''}. ` +
        'Use a VGG-16 weights file, or pass { allowMissing: true } to load only the layers it has',
    )
  }
  for (const { name, kernel, bias } of ready) {
    tf.tidy(() => {
      model.getLayer(name).setWeights([tf.tensor(kernel.values, kernel.shape), tf.tensor(bias.values, bias.shape)])
    })
  }
  return { format: stored.format, loaded: ready.map((r) => r.name), missing, ignored: stored.ignored }
}
