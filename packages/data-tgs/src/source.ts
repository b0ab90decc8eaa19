import { type DatasetSource, type SourceFile, openSource } from '@unet/data'
import { TgsDataError, asTgsError } from './errors'

export type { DatasetSource, SourceFile }

/**
 * Opens a folder or a `.zip` laid out like the Kaggle TGS download (zips
 * inside read in place, symbolic links followed: see `@unet/data`'s
 * `openSource`), re-rooted at the folder holding `train/`, `train.csv`, ….
 * `skipZip` leaves zips unopened: reading the test set never parses `train.zip`.
 */
export async function openDatasetSource(path: string, options: { skipZip?: (path: string) => boolean } = {}): Promise<DatasetSource> {
  let src: DatasetSource
  try {
    src = await openSource(path, { maxDepth: 4, ...(options.skipZip ? { skipZip: options.skipZip } : {}) })
  } catch (e) {
    throw asTgsError(e)
  }
  const root = findRoot(src.files)
  if (root === undefined) {
    await src.close()
    throw new TgsDataError(
      'NOT_A_TGS_DATASET',
      `${path} holds neither train/images/ nor train.csv nor test/images/ (also looked inside zips); point at the TGS download folder or its zip.`,
      { file: path },
    )
  }
  const files = new Map<string, SourceFile>()
  for (const [key, file] of src.files) if (key.startsWith(root)) files.set(key.slice(root.length), file)
  return { ...src, files }
}

function findRoot(files: Map<string, SourceFile>): string | undefined {
  let best: string | undefined
  for (const key of files.keys()) {
    // The root is a folder (or nothing): `old_train.csv` does not make `old_` a root.
    const m = /^((?:.*\/)?)(?:train\/images\/[^/]+|train\.csv|test\/images\/[^/]+)$/.exec(key)
    if (m && (best === undefined || m[1]!.length < best.length)) best = m[1]!
  }
  return best
}
