export * from './browser'
export { parseCsv, type CsvRow } from './csv'
export { mapLimit } from './concurrency'
export { openSource, type DatasetSource, type SourceFile, type OpenSourceOptions } from './source'
export {
  decodeImage,
  decodeMask,
  readImageHeader,
  type DecodedImage,
  type DecodedMask,
  type DecodeImageOptions,
  type DecodeMaskOptions,
  type ImageHeader,
} from './decode'
export {
  detectLayout,
  detectLayoutOf,
  openDataset,
  readDataset,
  loadImages,
  checkEntries,
  type CheckEntriesOptions,
  LAYOUTS,
  IMAGE_EXTENSIONS,
  IMAGE_FOLDERS,
  MASK_FOLDERS,
  type Layout,
  type DetectedLayout,
  type Dataset,
  type ReadDataset,
  type ReadOptions,
  type ReadReport,
  type Sample,
  type ImageSample,
  type SampleEntry,
} from './read'
export { createSampleLoader, type SampleLoader, type SampleLoaderOptions } from './loader'
