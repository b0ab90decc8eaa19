// The browser-safe part of @unet/data: pure TypeScript on typed arrays, no node: imports, no sharp.
// The browser page and `unet predict` prepare images and restore predictions with these same functions.
export { DataError, throwIfBadFiles, type DataErrorCode, type SkippedFile } from './errors'
export { createRng, deriveSeed, gaussian, uniform, shuffleInPlace, seededShuffle, type Rng, type Random } from './rng'
export { encodePng, type EncodePngOptions, type ImageSize } from './png'
export { resample, type Interpolation } from './resample'
export {
  prepareImage,
  prepareMask,
  restoreProbabilities,
  restoreMask,
  placement,
  checkModelSize,
  matchChannels,
  type PrepareSpec,
  type PrepareMode,
  type Placement,
  type MaskInterpolation,
} from './prepare'
export {
  compose,
  oneOf,
  augmentSample,
  horizontalFlip,
  verticalFlip,
  transpose,
  randomRotate90,
  rotate,
  shiftScaleRotate,
  affine,
  gridDistortion,
  elasticTransform,
  brightness,
  contrast,
  brightnessContrast,
  gamma,
  blur,
  boxBlurImage,
  noise,
  gaussNoise,
  hueSaturationValue,
  type Augmentation,
  type AugmentSample,
  type BorderMode,
  type ShiftScaleRotateOptions,
  type AffineOptions,
} from './augment'
export {
  AUGMENTATIONS,
  AUGMENTATION_NAMES,
  createAugmentation,
  describeAugmentations,
  type AugmentationConfig,
  type AugmentationName,
  type AugmentationSpec,
  type ParamSpec,
} from './registry'
export {
  stratifiedSplit,
  stratifiedKFold,
  groupedSplit,
  groupedKFold,
  maskCoverage,
  coverageClass,
  type SplitOptions,
  type KFoldOptions,
  type GroupedOptions,
  type Stratifiable,
} from './split'
export { createBatcher, type Batch, type Batcher, type BatcherOptions, type BatchSample, type BatchSource } from './batcher'
