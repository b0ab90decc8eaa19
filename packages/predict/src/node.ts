// The Node.js-only part of @unet/predict: run folders, inputs and outputs on disk.
export { KFOLD_FILE, latestRun, loadRunModel, loadRunModels, parseKfoldManifest, readModelSet, readRun, RUN_FILE, type KfoldFold, type KfoldManifest, type ModelSet, type RunFolder } from './run-folder'
export { expectedIds, openInputs, readSampleIds, type InputSet } from './inputs'
export { predictRun, prepareFor, prepareSpec, toModelChannels, type PredictRunOptions, type PredictRunResult } from './predict-run'
// also in the browser-safe entry; kept here for the code that imported it from @unet/predict/node
export { resolveEmptyThreshold } from './probabilities'
export { evaluateRun, perImageCsv, type EvaluateRunOptions, type EvaluateRunResult, type ImageScore, type MeanScores } from './evaluate-run'
export { mergeSubmissions, type MergeOptions, type MergeResult } from './merge'
export { StagedFolder, StreamedFile } from './outputs'
