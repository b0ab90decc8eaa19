import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join, posix } from 'node:path'
import yauzl from 'yauzl'
import { TgsDataError } from './errors'

/** One file of a dataset source, read on demand. */
export interface SourceFile {
  /** Where the file is, for messages: a path, or `archive.zip:inner/path`. */
  where: string
  read(): Promise<Buffer>
}

/**
 * A folder or zip (zips inside folders and zips inside zips included) seen as
 * one tree of files keyed by `/`-separated paths relative to the dataset root.
 */
export interface DatasetSource {
  /** The path the user gave. */
  path: string
  /** Files by path relative to the dataset root (the folder holding `train/`, `train.csv`, …). */
  files: Map<string, SourceFile>
  /** Releases open archives. */
  close(): Promise<void>
}

interface Mount {
  files: Map<string, SourceFile>
  closers: Array<() => void>
}

/**
 * Opens a folder or a `.zip` laid out like the Kaggle TGS download. Zips found
 * inside (Kaggle's `train.zip`, `test.zip`, or the competition zip) are read in
 * place: their entries appear under a folder named after the zip unless the zip
 * already holds that folder. Files on disk win over zip entries with the same path.
 */
export async function openDatasetSource(path: string): Promise<DatasetSource> {
  let info
  try {
    info = await stat(path)
  } catch (cause) {
    throw new TgsDataError('SOURCE_NOT_FOUND', `${path} does not exist; pass the folder or .zip of the TGS download.`, {
      cause,
      file: path,
    })
  }
  const mount: Mount = { files: new Map(), closers: [] }
  try {
    if (info.isDirectory()) {
      await mountFolder(path, '', mount, 0)
    } else {
      const zip = await openZip(() => yauzlOpen(path), path)
      mount.closers.push(() => zip.close())
      await mountZip(zip, path, '', basename(path), mount)
    }
  } catch (e) {
    for (const close of mount.closers) close()
    throw e
  }
  const root = findRoot(mount.files)
  if (root === undefined) {
    for (const close of mount.closers) close()
    throw new TgsDataError(
      'NOT_A_TGS_DATASET',
      `${path} holds neither train/images/ nor train.csv nor test/images/ (also looked inside zips); point at the TGS download folder or its zip.`,
      { file: path },
    )
  }
  const files = new Map<string, SourceFile>()
  for (const [key, file] of mount.files) if (key.startsWith(root)) files.set(key.slice(root.length), file)
  return {
    path,
    files,
    close: async () => {
      for (const close of mount.closers) close()
    },
  }
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

async function mountFolder(dir: string, prefix: string, mount: Mount, level: number): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true })
  const zips: string[] = []
  for (const entry of entries) {
    const full = join(dir, entry.name)
    const key = prefix + entry.name
    if (entry.isDirectory()) {
      if (level < 4 && entry.name !== 'node_modules' && !entry.name.startsWith('.')) {
        await mountFolder(full, key + '/', mount, level + 1)
      }
    } else if (entry.isFile()) {
      if (entry.name.toLowerCase().endsWith('.zip')) zips.push(full)
      else mount.files.set(key, { where: full, read: () => readFile(full) })
    }
  }
  for (const full of zips) {
    const zip = await openZip(() => yauzlOpen(full), full)
    mount.closers.push(() => zip.close())
    await mountZip(zip, full, prefix, basename(full), mount)
  }
}

async function mountZip(zip: OpenZip, where: string, prefix: string, zipName: string, mount: Mount): Promise<void> {
  const stem = zipName.replace(/\.zip$/i, '')
  const names = zip.entries.filter((e) => !e.fileName.endsWith('/')).map((e) => normalise(e.fileName))
  // Kaggle's train.zip holds images/ and masks/ directly, others hold train/ themselves.
  const holdsOwnFolder = names.length > 0 && names.every((n) => n.startsWith(stem + '/'))
  const base = holdsOwnFolder ? prefix : `${prefix}${stem}/`
  for (const entry of zip.entries) {
    if (entry.fileName.endsWith('/')) continue
    const name = normalise(entry.fileName)
    if (name.startsWith('__MACOSX/')) continue
    const key = base + name
    const inner = `${where}:${name}`
    if (name.toLowerCase().endsWith('.zip')) {
      const bytes = await zip.read(entry, inner)
      const nested = await openZip(() => yauzlFromBuffer(bytes), inner)
      mount.closers.push(() => nested.close())
      await mountZip(nested, inner, posix.dirname(key) === '.' ? '' : posix.dirname(key) + '/', posix.basename(name), mount)
    } else if (!mount.files.has(key)) {
      mount.files.set(key, { where: inner, read: () => zip.read(entry, inner) })
    }
  }
}

function normalise(name: string): string {
  return name.replace(/\\/g, '/').replace(/^\.?\//, '')
}

interface OpenZip {
  entries: yauzl.Entry[]
  read(entry: yauzl.Entry, where: string): Promise<Buffer>
  close(): void
}

function yauzlOpen(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zip) => (err ? reject(err) : resolve(zip))),
  )
}

function yauzlFromBuffer(bytes: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, zip) => (err ? reject(err) : resolve(zip))),
  )
}

async function openZip(open: () => Promise<yauzl.ZipFile>, where: string): Promise<OpenZip> {
  let zip: yauzl.ZipFile
  try {
    zip = await open()
  } catch (cause) {
    throw new TgsDataError('ZIP_ERROR', `${where} is not a readable zip (${(cause as Error).message}); re-download it.`, {
      cause,
      file: where,
    })
  }
  const entries = await new Promise<yauzl.Entry[]>((resolve, reject) => {
    const list: yauzl.Entry[] = []
    zip.on('entry', (entry: yauzl.Entry) => {
      list.push(entry)
      zip.readEntry()
    })
    zip.on('end', () => resolve(list))
    zip.on('error', (cause: Error) =>
      reject(new TgsDataError('ZIP_ERROR', `${where}: ${cause.message}; re-download it.`, { cause, file: where })),
    )
    zip.readEntry()
  })
  return {
    entries,
    close: () => zip.close(),
    read: (entry, file) =>
      new Promise<Buffer>((resolve, reject) => {
        zip.openReadStream(entry, (err, stream) => {
          if (err) {
            reject(new TgsDataError('ZIP_ERROR', `${file}: ${err.message}; re-download the zip.`, { cause: err, file }))
            return
          }
          const chunks: Buffer[] = []
          stream.on('data', (c: Buffer) => chunks.push(c))
          stream.on('error', (cause: Error) =>
            reject(new TgsDataError('ZIP_ERROR', `${file}: ${cause.message}; re-download the zip.`, { cause, file })),
          )
          stream.on('end', () => resolve(Buffer.concat(chunks)))
        })
      }),
  }
}
