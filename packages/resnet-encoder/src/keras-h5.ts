import type { LayersModel } from '@tensorflow/tfjs-layers'
import * as hdf5 from 'jsfive'
import { ResnetEncoderError } from './errors'

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

/** Whether bytes start an HDF5 file (the superblock sits at 0, 512, 1024, 2048, …). */
export function isHdf5(bytes: Uint8Array): boolean {
  for (let offset = 0; offset + SIGNATURE.length <= bytes.length; offset = offset === 0 ? 512 : offset * 2) {
    if (SIGNATURE.every((byte, i) => bytes[offset + i] === byte)) return true
  }
  return false
}

const text = (value: unknown): string => (value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value)).replace(/\0+$/, '')
const strings = (value: unknown): string[] | undefined =>
  value === undefined || value === null ? undefined : Array.isArray(value) ? value.map(text) : [text(value)]

interface StoredLayer {
  name: string
  arrays: Array<{ name: string; shape: number[]; values: () => Float32Array }>
}

/** Layers of the pre-activation network that carry weights under their own name in the file. */
const NAMED = /^(bn_data|conv0|bn0|bn1|stage\d+_unit\d+_(bn\d|conv\d|sc))$/
const SE_LAYER = /^stage\d+_unit\d+_se_fc[12]$/
/** The classifier of a file saved with its top. */
const TOP = new Set(['fc1'])

/**
 * Reads a Keras HDF5 weights file in the layout of qubvel's classification_models (`model.save_weights()`:
 * root attribute `layer_names`, each layer a group with `weight_names`; or the same under `/model_weights`) into
 * the layers of a `topology: 'classification_models'` model. Named layers (`bn_data`, `conv0`,
 * `stage1_unit1_bn1`, …) match by name; the SE blocks' unnamed `conv2d_*` layers match the model's
 * `…_se_fc1`/`…_se_fc2` in order, as Keras lists layers in data-flow order. Every array is checked (presence and
 * shape) before anything is returned.
 *
 * @param model - the model to fill
 * @param bytes - the file
 * @param where - the file's path, for messages
 * @returns each layer's arrays in the layer's weight order, and the file layers not used
 * @throws {ResnetEncoderError} `BAD_FORMAT`, `MISSING_TENSOR`, `EXTRA_TENSOR`, `SHAPE_MISMATCH`
 */
export function readKerasH5Weights(model: LayersModel, bytes: Uint8Array, where: string): { values: Map<string, Float32Array[]>; ignored: string[] } {
  const fail = (code: 'BAD_FORMAT' | 'MISSING_TENSOR' | 'EXTRA_TENSOR' | 'SHAPE_MISMATCH', message: string, tensor?: string) =>
    new ResnetEncoderError(code, `loadEncoderWeights: ${where}: ${message}`, tensor === undefined ? undefined : { tensor })
  if (!model.layers.some((l) => l.name === 'bn_data')) {
    throw fail(
      'BAD_FORMAT',
      "is a Keras HDF5 file; classification_models' ResNets are pre-activation networks, not torchvision's: build the model with " +
        "{ topology: 'classification_models' } (createEncoder / resnetEncoder) to load it, or use safetensors weights for the torchvision topology",
    )
  }
  let file: hdf5.File
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    file = new hdf5.File(buffer, where)
  } catch (cause) {
    throw new ResnetEncoderError('BAD_FORMAT', `loadEncoderWeights: ${where} could not be read as HDF5 (${text(cause)}); the file may be truncated`, { cause })
  }
  const root = file.keys.includes('model_weights') ? (file.get('model_weights') as hdf5.Group) : file
  const layerNames = strings(root.attrs.layer_names)
  if (!layerNames) throw fail('BAD_FORMAT', "has no 'layer_names' attribute, so it is not a Keras weights file (save one with model.save_weights)")
  const stored: StoredLayer[] = []
  for (const layerName of layerNames) {
    let group: hdf5.Group | hdf5.Dataset
    try {
      group = root.get(layerName)
    } catch (cause) {
      throw new ResnetEncoderError('BAD_FORMAT', `loadEncoderWeights: ${where}: 'layer_names' lists '${layerName}', which the file does not hold`, { cause })
    }
    if (group instanceof hdf5.Dataset) throw fail('BAD_FORMAT', `'${layerName}' is a dataset, not a layer group`)
    const weightNames = strings(group.attrs.weight_names) ?? []
    if (weightNames.length === 0) continue
    stored.push({
      name: layerName,
      arrays: weightNames.map((weightName) => {
        const dataset = group.get(weightName) as hdf5.Dataset
        return { name: `${layerName}/${weightName}`, shape: [...dataset.shape], values: () => Float32Array.from(dataset.value) }
      }),
    })
  }
  const byName = new Map(stored.map((layer) => [layer.name, layer]))
  const unnamedConvs = stored.filter((layer) => !NAMED.test(layer.name) && !TOP.has(layer.name) && layer.arrays.length === 2 && layer.arrays[0]!.shape.length === 4)
  const targets = model.layers.filter((layer) => (NAMED.test(layer.name) || SE_LAYER.test(layer.name)) && layer.weights.length > 0)
  const seTargets = targets.filter((layer) => SE_LAYER.test(layer.name))
  if (unnamedConvs.length !== seTargets.length) {
    throw fail(
      unnamedConvs.length > seTargets.length ? 'EXTRA_TENSOR' : 'MISSING_TENSOR',
      `holds ${unnamedConvs.length} unnamed 1×1 convolutions (SE blocks) but model '${model.name}' has ${seTargets.length}; use the file of the same encoder (resnet vs seresnet, same depth)`,
      (unnamedConvs[seTargets.length] ?? unnamedConvs[0])?.name,
    )
  }
  const source = new Map<string, StoredLayer>()
  seTargets.forEach((layer, i) => source.set(layer.name, unnamedConvs[i]!))
  for (const layer of targets) if (!SE_LAYER.test(layer.name)) source.set(layer.name, byName.get(layer.name)!)
  const missing = targets.filter((layer) => source.get(layer.name) === undefined).map((layer) => layer.name)
  if (missing.length > 0) {
    throw fail('MISSING_TENSOR', `has no layer ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` (and ${missing.length - 3} more)` : ''} that model '${model.name}' needs (nothing was loaded)`, missing[0])
  }
  const used = new Set([...source.values()].map((layer) => layer.name))
  const extra = stored.filter((layer) => !used.has(layer.name) && !TOP.has(layer.name))
  if (extra.length > 0) {
    throw fail('EXTRA_TENSOR', `holds layer ${extra[0]!.name}, which model '${model.name}' has no place for (nothing was loaded); the file is probably of a deeper encoder`, extra[0]!.arrays[0]?.name)
  }
  for (const layer of targets) {
    const from = source.get(layer.name)!
    const want = layer.weights.map((w) => w.shape as number[])
    const bad = from.arrays.length !== want.length ? from.arrays[0] : from.arrays.find((a, i) => String(a.shape) !== String(want[i]))
    if (bad !== undefined || from.arrays.length !== want.length) {
      throw fail(
        'SHAPE_MISMATCH',
        `${from.arrays.map((a) => `${a.name} [${a.shape.join(', ')}]`).join(', ')} do not fit layer ${layer.name} of model '${model.name}', which needs ` +
          `${want.map((s) => `[${s.join(', ')}]`).join(', ')} (nothing was loaded); use weights of the same encoder`,
        bad?.name,
      )
    }
  }
  const values = new Map<string, Float32Array[]>()
  for (const layer of targets) values.set(layer.name, source.get(layer.name)!.arrays.map((a) => a.values()))
  return { values, ignored: stored.filter((layer) => TOP.has(layer.name)).map((layer) => layer.name) }
}
