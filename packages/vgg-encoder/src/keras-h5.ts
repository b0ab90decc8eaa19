import * as hdf5 from 'jsfive'
import { VggError } from './errors'
import { isVggConv, type StoredArray, type StoredWeights } from './weight-file'

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

/** Whether bytes start an HDF5 file (the superblock sits at 0, 512, 1024, 2048, …). */
export function isHdf5(bytes: Uint8Array): boolean {
  for (let offset = 0; offset + SIGNATURE.length <= bytes.length; offset = offset === 0 ? 512 : offset * 2) {
    if (SIGNATURE.every((byte, i) => bytes[offset + i] === byte)) return true
  }
  return false
}

/** HDF5 fixed-length strings come back NUL-padded; variable-length ones may come back as bytes. */
function text(value: unknown): string {
  const s = value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value)
  return s.replace(/\0+$/, '')
}

function strings(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string' || value instanceof Uint8Array) return [text(value)]
  if (Array.isArray(value)) return value.map(text)
  return undefined
}

function fail(source: string, message: string, cause?: unknown): VggError {
  return new VggError('BAD_FORMAT', `${source}: ${message}`, { cause })
}

/** jsfive throws strings; turn a failed lookup into a clear error. */
function lookup(group: hdf5.Group, path: string, source: string, where: string): hdf5.Group | hdf5.Dataset {
  try {
    return group.get(path)
  } catch (cause) {
    throw fail(source, `${where} lists '${path}', which the file does not hold; the file is damaged or not a Keras weights file`, cause)
  }
}

/**
 * Reads the VGG-16 convolutions of a Keras HDF5 weights file: `model.save_weights()` (root attribute
 * `layer_names`) or a whole `model.save()` file (the same under `/model_weights`). Each layer's arrays are taken
 * in the order of its `weight_names` attribute, which Keras itself follows, so both the Keras 2 layout
 * (`block1_conv1/block1_conv1/kernel:0`) and the Keras 1 layout of the original notop file
 * (`block1_conv1/block1_conv1_W_1:0`) read the same, as does a VGG16 nested as one layer of a bigger Keras model
 * (`vgg16/block1_conv1/kernel:0`). Arrays of other layers are not decoded.
 */
export function readKerasH5(buffer: ArrayBuffer, source: string): StoredWeights {
  if (!isHdf5(new Uint8Array(buffer))) {
    throw fail(source, 'is not an HDF5 file; pass the Keras .h5 weights file or a tfjs model.json')
  }
  let file: hdf5.File
  try {
    file = new hdf5.File(buffer, source)
  } catch (cause) {
    throw fail(source, `could not be read as HDF5 (${text(cause)}); the file may be truncated`, cause)
  }
  let root: hdf5.Group = file
  if (file.keys.includes('model_weights')) {
    const weights = file.get('model_weights')
    if (weights instanceof hdf5.Dataset) throw fail(source, "'/model_weights' is a dataset, not a group of layers")
    root = weights
  }
  const layerNames = strings(root.attrs.layer_names)
  if (!layerNames) {
    throw fail(
      source,
      "has no 'layer_names' attribute, so it is not a Keras weights file; save one with model.save_weights('….h5') " +
        'or use vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    )
  }
  const layers: StoredWeights['layers'] = new Map()
  const ignored: string[] = []
  for (const layerName of layerNames) {
    const group = lookup(root, layerName, source, "'layer_names'")
    if (group instanceof hdf5.Dataset) throw fail(source, `'${layerName}' is a dataset, not a layer group`)
    const weightNames = strings(group.attrs.weight_names) ?? []
    let found = false
    for (const weightName of weightNames) {
      // a weight belongs to the VGG layer its path names (a nested VGG16 model: 'vgg16' holding
      // 'block1_conv1/kernel:0'), else to its own layer (Keras 1: 'block1_conv1' holding 'block1_conv1_W_1:0')
      const owner = weightName.split('/').find(isVggConv) ?? (isVggConv(layerName) ? layerName : undefined)
      if (!owner) continue
      found = true
      const dataset = lookup(group, weightName, source, `'${layerName}/weight_names'`)
      if (!(dataset instanceof hdf5.Dataset)) throw fail(source, `'${layerName}/${weightName}' is a group, not an array`)
      let values: Float32Array
      try {
        values = Float32Array.from(dataset.value)
      } catch (cause) {
        throw fail(source, `'${layerName}/${weightName}' could not be decoded (${text(cause)})`, cause)
      }
      const arrays = layers.get(owner) ?? []
      arrays.push({ name: weightName, shape: [...dataset.shape], values })
      layers.set(owner, arrays)
    }
    if (!found) ignored.push(layerName)
  }
  return { format: 'keras-h5', layers, ignored }
}
