import { readFile, readdir, realpath, stat } from 'node:fs/promises'
import { basename, posix } from 'node:path'
import yauzl from 'yauzl'
import { DataError, type SkippedFile } from './errors'

/** One file of a dataset source, read on demand. */
export interface SourceFile {
  /** Where the file is, for messages: a path, or `archive.zip:inner/path`. */
  where: string
  read(): Promise<Buffer>
}

/**
 * A folder or zip (zips inside folders and zips inside zips included) seen as
 * one tree of files keyed by `/`-separated paths relative to the given path.
 */
export interface DatasetSource {
  /** The path the user gave. */
  path: string
  /** Files by path relative to `path`. */
  files: Map<string, SourceFile>
  /** Links that could not be followed (loops, dangling links). */
  problems: SkippedFile[]
  /** Things worth knowing that left nothing out (e.g. a directory link that loops back, not followed). */
  notes: string[]
  /** Releases open archives. */
  close(): Promise<void>
}

/** Options of {@link openSource}. */
export interface OpenSourceOptions {
  /**
   * Zips to leave unopened, by their path inside the source (e.g. `train.zip`):
   * reading Kaggle's test set never needs, or parses, `train.zip`.
   */
  skipZip?: (path: string) => boolean
  /** How deep to look into sub-folders (default 6). */
  maxDepth?: number
}

interface Mount {
  files: Map<string, SourceFile>
  closers: Array<() => void>
  problems: SkippedFile[]
  notes: string[]
  skipZip: (path: string) => boolean
  maxDepth: number
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** A file name as text: UTF-8 when it is valid UTF-8, else Latin-1 (every byte one character, nothing lost). */
function nameOf(bytes: Buffer): string {
  try {
    return UTF8.decode(bytes)
  } catch {
    return bytes.toString('latin1')
  }
}

function joinPath(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, Buffer.from('/'), name])
}

/**
 * Opens a folder or a `.zip` as one tree of files. Zips found inside are read
 * in place: their entries appear under a folder named after the zip unless the
 * zip already holds that folder. Files on disk win over zip entries with the
 * same path. Symbolic links (DVC, git-annex) are followed; a link that loops is
 * not, and is listed. File names that are not UTF-8 are read by their bytes.
 *
 * @param path - a folder or a `.zip`
 * @param options - `skipZip`, `maxDepth`
 * @returns the tree of files; call `close()` when done
 * @example
 * ```ts
 * const src = await openSource('/data/carvana')
 * console.log([...src.files.keys()].slice(0, 3))
 * await src.close()
 * ```
 */
export async function openSource(path: string, options: OpenSourceOptions = {}): Promise<DatasetSource> {
  let info
  try {
    info = await stat(path)
  } catch (cause) {
    throw new DataError('SOURCE_NOT_FOUND', `${path} does not exist; pass the dataset folder or its .zip.`, { cause, file: path })
  }
  const mount: Mount = {
    files: new Map(),
    closers: [],
    problems: [],
    notes: [],
    skipZip: options.skipZip ?? (() => false),
    maxDepth: options.maxDepth ?? 6,
  }
  try {
    if (info.isDirectory()) {
      await mountFolder(Buffer.from(path), '', mount, 0, [await realpath(path)])
    } else {
      const zip = await openZip(() => yauzlOpen(path), path)
      mount.closers.push(() => zip.close())
      await mountZip(zip, path, '', basename(path), mount)
    }
  } catch (e) {
    for (const close of mount.closers) close()
    throw e
  }
  return {
    path,
    files: mount.files,
    problems: mount.problems,
    notes: mount.notes,
    close: async () => {
      for (const close of mount.closers) close()
    },
  }
}

async function mountFolder(dir: Buffer, prefix: string, mount: Mount, level: number, ancestors: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' })
  const zips: Array<{ full: Buffer; key: string }> = []
  for (const entry of entries) {
    const raw = entry.name as unknown as Buffer
    const name = nameOf(raw)
    const full = joinPath(dir, raw)
    const key = prefix + name
    const shown = full.toString('utf8')
    let isDir = entry.isDirectory()
    let isFile = entry.isFile()
    if (entry.isSymbolicLink()) {
      try {
        const target = await stat(full)
        isDir = target.isDirectory()
        isFile = target.isFile()
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code
        mount.problems.push({
          file: shown,
          code: code === 'ELOOP' ? 'SYMLINK_LOOP' : 'SOURCE_NOT_FOUND',
          reason: code === 'ELOOP' ? 'the symbolic link loops; fix the link' : `the symbolic link points to nothing (${code}); fetch the data it stands for (dvc pull, git annex get) or remove it`,
        })
        continue
      }
    }
    if (isDir) {
      if (level < mount.maxDepth && name !== 'node_modules' && !name.startsWith('.')) {
        const real = await realpath(full)
        if (ancestors.includes(real)) {
          mount.notes.push(`${shown} links back to ${real}, a folder it is inside; not followed`)
          continue
        }
        await mountFolder(full, key + '/', mount, level + 1, [...ancestors, real])
      }
    } else if (isFile) {
      if (name.toLowerCase().endsWith('.zip')) zips.push({ full, key })
      else mount.files.set(key, { where: shown, read: () => readFile(full) })
    }
  }
  for (const { full, key } of zips) {
    if (mount.skipZip(key)) continue
    const shown = full.toString('utf8')
    const zip = await openZip(() => yauzlOpen(full), shown)
    mount.closers.push(() => zip.close())
    await mountZip(zip, shown, prefix, posix.basename(key), mount)
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
      if (mount.skipZip(key)) continue
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

function yauzlOpen(path: string | Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    // yauzl passes the path to fs.open, which takes a Buffer too (names that are not UTF-8).
    yauzl.open(path as string, { lazyEntries: true, autoClose: false }, (err, zip) => (err ? reject(err) : resolve(zip))),
  )
}

function yauzlFromBuffer(bytes: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, zip) => (err ? reject(err) : resolve(zip))))
}

async function openZip(open: () => Promise<yauzl.ZipFile>, where: string): Promise<OpenZip> {
  let zip: yauzl.ZipFile
  try {
    zip = await open()
  } catch (cause) {
    throw new DataError('ZIP_ERROR', `${where} is not a readable zip (${(cause as Error).message}); re-download it.`, { cause, file: where })
  }
  const entries = await new Promise<yauzl.Entry[]>((resolve, reject) => {
    const list: yauzl.Entry[] = []
    zip.on('entry', (entry: yauzl.Entry) => {
      list.push(entry)
      zip.readEntry()
    })
    zip.on('end', () => resolve(list))
    zip.on('error', (cause: Error) => reject(new DataError('ZIP_ERROR', `${where}: ${cause.message}; re-download it.`, { cause, file: where })))
    zip.readEntry()
  })
  return {
    entries,
    close: () => zip.close(),
    read: (entry, file) =>
      new Promise<Buffer>((resolve, reject) => {
        zip.openReadStream(entry, (err, stream) => {
          if (err) {
            reject(new DataError('ZIP_ERROR', `${file}: ${err.message}; re-download the zip.`, { cause: err, file }))
            return
          }
          const chunks: Buffer[] = []
          stream.on('data', (c: Buffer) => chunks.push(c))
          stream.on('error', (cause: Error) => reject(new DataError('ZIP_ERROR', `${file}: ${cause.message}; re-download the zip.`, { cause, file })))
          stream.on('end', () => resolve(Buffer.concat(chunks)))
        })
      }),
  }
}
