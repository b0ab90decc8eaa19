/**
 * The 13 convolution layers of VGG-16, with the names Keras gives them.
 *
 * @example
 * ```ts
 * VGG16_CONV_LAYERS.map((name) => model.getLayer(name).trainable)
 * ```
 */
export const VGG16_CONV_LAYERS = [
  'block1_conv1',
  'block1_conv2',
  'block2_conv1',
  'block2_conv2',
  'block3_conv1',
  'block3_conv2',
  'block3_conv3',
  'block4_conv1',
  'block4_conv2',
  'block4_conv3',
  'block5_conv1',
  'block5_conv2',
  'block5_conv3',
] as const

/** A VGG-16 convolution layer name, `block1_conv1` … `block5_conv3`. */
export type VggConvLayerName = (typeof VGG16_CONV_LAYERS)[number]

/**
 * The five max-pooling layers of VGG-16, Keras names.
 *
 * @example
 * ```ts
 * model.getLayer(VGG16_POOL_LAYERS[4]).outputShape // [null, h / 32, w / 32, 512]
 * ```
 */
export const VGG16_POOL_LAYERS = [
  'block1_pool',
  'block2_pool',
  'block3_pool',
  'block4_pool',
  'block5_pool',
] as const

/** Any VGG-16 encoder layer name: a convolution or a pooling layer. */
export type VggLayerName = VggConvLayerName | (typeof VGG16_POOL_LAYERS)[number]

/**
 * The encoder layers in the order the data flows through them (Keras' VGG16 order); `freezeUpTo` freezes a prefix.
 *
 * @example
 * ```ts
 * VGG16_ENCODER_LAYERS.indexOf('block2_pool') // 5
 * ```
 */
export const VGG16_ENCODER_LAYERS: readonly VggLayerName[] = [
  'block1_conv1',
  'block1_conv2',
  'block1_pool',
  'block2_conv1',
  'block2_conv2',
  'block2_pool',
  'block3_conv1',
  'block3_conv2',
  'block3_conv3',
  'block3_pool',
  'block4_conv1',
  'block4_conv2',
  'block4_conv3',
  'block4_pool',
  'block5_conv1',
  'block5_conv2',
  'block5_conv3',
  'block5_pool',
]

/**
 * Output channels of each VGG-16 block (1…5).
 *
 * @example
 * ```ts
 * VGG16_BLOCK_FILTERS[2] // 256, the channels of block3_conv1 … block3_conv3
 * ```
 */
export const VGG16_BLOCK_FILTERS = [64, 128, 256, 512, 512] as const

/**
 * Expected kernel shape `[3, 3, in, out]` of each VGG-16 convolution (the Keras / TensorFlow layout).
 *
 * @param layer - a VGG-16 convolution name
 * @returns its kernel shape
 * @example
 * ```ts
 * vggKernelShape('block2_conv1') // [3, 3, 64, 128]
 * ```
 */
export function vggKernelShape(layer: VggConvLayerName): [number, number, number, number] {
  const index = VGG16_CONV_LAYERS.indexOf(layer)
  const block = Number(layer[5]) - 1
  const out = VGG16_BLOCK_FILTERS[block] as number
  const previous = VGG16_CONV_LAYERS[index - 1]
  const inputs =
    previous === undefined ? 3 : (VGG16_BLOCK_FILTERS[Number(previous[5]) - 1] as number)
  return [3, 3, inputs, out]
}
