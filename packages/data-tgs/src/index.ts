export { TgsDataError, type TgsDataErrorCode } from './errors'
export type { TgsSample, TgsTestImage, ImageShape } from './types'
export {
  readTgsDataset,
  readTgsTestImages,
  type ReadTgsOptions,
  type ReadTgsTestOptions,
  type TgsDataset,
  type TgsReadReport,
  type TgsProblem,
} from './dataset'
export { decodePng, readPngHeader, type DecodedPng, type PngHeader } from './png'
export { toModelSize, fromModelSize, resizeBilinear, tgsPrepareSpec, type ModelSizeOptions, type SizeMode } from './resize'
export {
  createBatches,
  toInputTensor,
  type BatchOptions,
  type BatchSample,
  type TgsBatch,
  type TgsBatches,
  type DepthChannelOptions,
} from './batches'
export {
  generateSyntheticTgs,
  generateSyntheticImage,
  type SyntheticTgsOptions,
  type SyntheticTgs,
  type SyntheticImage,
} from './synthetic'
export { writeSyntheticTgs, type WrittenTgs } from './write'
// The generic parts live in @unet/data (one of each); re-exported here so TGS code needs one import.
export {
  maskCoverage,
  coverageClass,
  stratifiedSplit,
  stratifiedKFold,
  compose,
  oneOf,
  augmentSample,
  createAugmentation,
  horizontalFlip,
  shiftScaleRotate,
  brightness,
  contrast,
  gamma,
  blur,
  noise,
  type Augmentation,
  type AugmentSample,
  type AugmentationConfig,
  type ShiftScaleRotateOptions,
  type SplitOptions,
  type KFoldOptions,
  type Stratifiable,
} from '@unet/data'
