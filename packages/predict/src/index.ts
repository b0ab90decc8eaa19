export { PredictError, type PredictErrorCode } from './errors'
export { parseRunFile, RUN_FILE_VERSION, type RunFile, type RunPrepare } from './run-file'
export { applyView, parseTtaViews, TTA_VIEW_NAMES, TTA_VIEWS, undoView, type TtaView } from './tta'
export {
  checkModelInput,
  hasEmptyClassifier,
  keepsMask,
  modelInputShape,
  predictImages,
  predictProbabilities,
  predictTensor,
  predictWithClassifier,
  resolveEmptyThreshold,
  type ClassifiedImages,
  type ClassifiedTensor,
  type ImageBatch,
  type Models,
  type PredictOptions,
} from './probabilities'
export {
  binarize,
  fillHoles,
  findComponents,
  postProcess,
  removeSmallComponents,
  unionBox,
  type Box,
  type Component,
  type PostProcessOptions,
  type Size,
} from './postprocess'
export { cutOut, maskBytes, overlay, toBytes, type ByteImage } from './render'
export { parseShard, partPath, shardFromEnv, shardOf, type Shard } from './shard'
export { submissionFormat, type SubmissionFormat } from './convention'
