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
export { decodePng, encodePng, readPngHeader, type DecodedPng, type PngHeader } from './png'
export { maskCoverage, coverageClass } from './coverage'
export { stratifiedSplit, stratifiedKFold, type SplitOptions, type KFoldOptions, type Stratifiable } from './split'
export { toModelSize, fromModelSize, resizeBilinear, type ModelSizeOptions, type SizeMode } from './resize'
export {
  compose,
  oneOf,
  augmentSample,
  horizontalFlip,
  shiftScaleRotate,
  brightness,
  contrast,
  gamma,
  blur,
  noise,
  type Augmentation,
  type AugmentSample,
  type ShiftScaleRotateOptions,
} from './augment'
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
export { seededRandom, type Random } from './random'
