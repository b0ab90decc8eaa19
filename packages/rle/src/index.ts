export { encode } from './encode'
export { decode, validateRle } from './decode'
export { RleError, type RleErrorCode, type RleErrorDetails } from './errors'
export { type MaskShape, type PixelOrder, type RleOptions } from './shape'
export {
  formatSubmission,
  parseSubmission,
  parseSubmissionChunks,
  submissionChunks,
  TGS_ID_PATTERN,
  type FormatSubmissionOptions,
  type ParseSubmissionOptions,
  type SubmissionChunksOptions,
  type SubmissionOptions,
  type SubmissionRow,
  type SubmissionSource,
} from './submission'
export {
  readSubmission,
  streamSubmission,
  writeSubmission,
  type NodeWritableLike,
  type SubmissionTarget,
  type WriteSubmissionOptions,
  type WriteSubmissionResult,
} from './submission-files'
export {
  SubmissionError,
  type SubmissionErrorCode,
  type SubmissionErrorDetails,
} from './submission-error'
