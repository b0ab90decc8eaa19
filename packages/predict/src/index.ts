export { PredictError, type PredictErrorCode } from './errors'
export { parseRunFile, RUN_FILE_VERSION, type RunFile, type RunPrepare } from './run-file'
export { applyView, parseTtaViews, TTA_VIEW_NAMES, TTA_VIEWS, undoView, type TtaView } from './tta'
export { checkModelInput, modelInputShape, predictProbabilities, predictTensor, type ImageBatch, type PredictOptions } from './probabilities'
