export { serve, safeRelativePath, RUN_PREFIX, type ServeOptions, type RunningServer } from './server'
export { WebError, type WebErrorCode } from './errors'
export { parseRun, RunFormatError, type RunSpec, type PrepareSettings } from './run'
