import type { LayersModel } from '@tensorflow/tfjs-layers'
import { ResnetEncoderError } from './errors'

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

/** Whether bytes start an HDF5 file (the superblock sits at 0, 512, 1024, 2048, …). */
export function isHdf5(bytes: Uint8Array): boolean {
  for (let offset = 0; offset + SIGNATURE.length <= bytes.length; offset = offset === 0 ? 512 : offset * 2) {
    if (SIGNATURE.every((byte, i) => bytes[offset + i] === byte)) return true
  }
  return false
}

/** Reads classification_models' Keras weights for the model's layers. */
export function readKerasH5Weights(model: LayersModel, _bytes: Uint8Array, where: string): { values: Map<string, Float32Array[]>; ignored: string[] } {
  throw new ResnetEncoderError('BAD_FORMAT', `loadEncoderWeights: ${where} is Keras HDF5, which model '${model.name}' cannot take yet`)
}
