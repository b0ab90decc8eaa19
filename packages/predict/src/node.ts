// The Node.js-only part of @unet/predict: run folders, inputs and outputs on disk.
export { latestRun, loadRunModel, readRun, RUN_FILE, type RunFolder } from './run-folder'
export { mergeSubmissions, type MergeOptions, type MergeResult } from './merge'
export { StagedFolder, StreamedFile } from './outputs'
