import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { VggError } from './errors'
import { isVggConv, type StoredWeights } from './weight-file'

function fail(source: string, message: string, cause?: unknown): VggError {
  return new VggError('BAD_FORMAT', `${source}: ${message}`, { cause })
}

/**
 * Reads the VGG-16 convolutions of a tfjs layers-format model (`model.json` + weight shards), as `model.save()`
 * writes it and `tensorflowjs_converter` makes it from a Keras file. A weight belongs to the VGG layer named by
 * one of its path segments (`block1_conv1/kernel`, `vgg16/block1_conv1/kernel`).
 */
export async function readTfjsLayers(modelJsonPath: string): Promise<StoredWeights> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(modelJsonPath, 'utf8'))
  } catch (cause) {
    throw fail(modelJsonPath, `is not valid JSON (${String(cause)}); pass a tfjs model.json or a Keras .h5 file`, cause)
  }
  const manifest = (json as { weightsManifest?: unknown }).weightsManifest
  if (!Array.isArray(manifest)) {
    throw fail(modelJsonPath, "has no 'weightsManifest'; it is not a tfjs layers-format model.json")
  }
  const groups = manifest as tf.io.WeightsManifestConfig
  const specs = groups.flatMap((group) => group.weights)
  const buffers: ArrayBuffer[] = []
  for (const group of groups) {
    for (const path of group.paths) {
      const shard = join(dirname(modelJsonPath), path)
      try {
        const bytes = await readFile(shard)
        buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer)
      } catch (cause) {
        throw fail(modelJsonPath, `lists the weight shard '${path}', which could not be read (${String(cause)})`, cause)
      }
    }
  }
  const expected = specs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * 4, 0)
  const total = buffers.reduce((sum, b) => sum + b.byteLength, 0)
  if (specs.every((spec) => spec.dtype === 'float32' && !spec.quantization) && total !== expected) {
    throw fail(modelJsonPath, `weight shards hold ${total} bytes but the manifest describes ${expected}; the files do not belong together`)
  }
  let named: tf.NamedTensorMap
  try {
    named = tf.io.decodeWeights(tf.io.concatenateArrayBuffers(buffers), specs)
  } catch (cause) {
    throw fail(modelJsonPath, `weights could not be decoded (${String(cause)})`, cause)
  }
  const layers: StoredWeights['layers'] = new Map()
  const ignored = new Set<string>()
  try {
    for (const spec of specs) {
      const segments = spec.name.split('/')
      const layer = segments.find(isVggConv)
      if (!layer) {
        ignored.add(segments.length > 1 ? segments.slice(0, -1).join('/') : spec.name)
        continue
      }
      const tensor = named[spec.name] as tf.Tensor
      const arrays = layers.get(layer) ?? []
      arrays.push({ name: spec.name, shape: [...tensor.shape], values: Float32Array.from(tensor.dataSync()) })
      layers.set(layer, arrays)
    }
  } finally {
    tf.dispose(named)
  }
  return { format: 'tfjs-layers', layers, ignored: [...ignored] }
}
