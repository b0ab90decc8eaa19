export { FilesError, type FilesErrorCode } from './errors'
export {
  ensureFolder,
  outputKind,
  STDOUT,
  syncDir,
  TEMP_PREFIX,
  writeFileAtomic,
  type Chunk,
  type FileContent,
  type WriteFileOptions,
  type WriteFileResult,
} from './write'
