import { VGG16_CONV_LAYERS, type VggConvLayerName } from './architecture'

/** One array read from a weights file. */
export interface StoredArray {
  /** Its name in the file (`block1_conv1/kernel:0`, `block1_conv1_W_1:0`, `block1_conv1/kernel`). */
  name: string
  shape: number[]
  values: Float32Array
}

/** What a weights reader returns: the arrays of each VGG-16 convolution found, and the other layers' names. */
export interface StoredWeights {
  format: 'keras-h5' | 'tfjs-layers'
  layers: Map<VggConvLayerName, StoredArray[]>
  ignored: string[]
}

const convNames = new Set<string>(VGG16_CONV_LAYERS)

/** Whether a layer name is one of the 13 VGG-16 convolutions. */
export function isVggConv(name: string): name is VggConvLayerName {
  return convNames.has(name)
}
