export {
  VGG16_BLOCK_FILTERS,
  VGG16_CONV_LAYERS,
  VGG16_ENCODER_LAYERS,
  VGG16_POOL_LAYERS,
  vggKernelShape,
  type VggConvLayerName,
  type VggLayerName,
} from './architecture'
export { createVggUnet, vggEncoder, type DecoderFilters, type VggEncoderOptions, type VggUnetOptions } from './create-vgg-unet'
export { VggError, type VggErrorCode } from './errors'
export { freezeVggEncoder, frozenLayerNames, type FreezeUpTo } from './freeze'
export { IMAGENET_BGR_MEANS, vggPreprocess, type VggPreprocessOptions } from './preprocess'
export {
  loadVggWeights,
  type LoadVggWeightsOptions,
  type LoadVggWeightsResult,
} from './load-weights'
