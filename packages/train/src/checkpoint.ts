import type { LayersModel } from '@tensorflow/tfjs-layers'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ensureFolder, syncDir, writeFileAtomic } from '@unet/files'
import { loadModel, saveModel } from '@unet/runtime'
import type { BestEpoch, EpochLogs } from './callbacks'
import { TrainError } from './errors'
import type { OptimizerState, SavedVariable } from './optimizers'
import type { StopReason } from './stop'

/** Where a run stands: `state.json` in each checkpoint folder. */
export interface TrainingState {
  readonly format: 'unet-training-state'
  readonly version: 2
  /** Epoch to run next (0-based); equals the number of finished epochs when `step` is 0. */
  readonly epoch: number
  /** Step within `epoch` to run next (non-zero when a run was cut mid-epoch). */
  readonly step: number
  /** Optimizer steps taken so far. */
  readonly globalStep: number
  /** Sum of (loss × images), image count and seconds so far in the unfinished epoch. */
  readonly partialEpoch: { readonly lossSum: number; readonly images: number; readonly seconds: number }
  /** Learning rate now. */
  readonly lr: number
  /** Seconds of training so far, over all sessions. */
  readonly elapsedSeconds: number
  /** One entry per finished epoch. */
  readonly history: EpochLogs[]
  /** Per-callback state, by callback name. */
  readonly callbacks: Record<string, unknown>
  /** Best epoch by the monitor so far. */
  readonly best: BestEpoch | null
  /** Why training stopped, when it has. */
  readonly stopReason: StopReason | null
  /** Whether the run is over. */
  readonly finished: boolean
}

/** The pointer file of a checkpoint slot (`<slot>.json`): names the folder that holds the slot's current version. */
interface Pointer {
  readonly format: 'unet-checkpoint-pointer'
  readonly version: 1
  readonly folder: string
}

/** A step of a checkpoint save, for crash tests: a hook that throws there leaves the disk as a crash would. */
export type CheckpointStep = 'write-temp' | 'rename-folder' | 'write-pointer' | 'remove-previous'

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Runs after the pointer moved and before the previous version is removed (e.g. to point run.json at the new folder). */
  readonly committed?: (folder: string) => Promise<void> | void
  /** Test hook, called before each step that changes the disk. */
  readonly beforeStep?: (step: CheckpointStep, path: string) => void
}

const TEMP = '.tmp-'
let counter = 0

function versionFolders(dir: string, slot: string): { name: string; version: number }[] {
  let names: string[] = []
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const re = new RegExp(`^${slot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{6,})$`)
  return names.flatMap((name) => {
    const m = re.exec(name)
    return m ? [{ name, version: Number(m[1]) }] : []
  })
}

function readPointer(dir: string, slot: string): Pointer | null {
  let text: string
  try {
    text = readFileSync(join(dir, `${slot}.json`), 'utf8')
  } catch {
    return null
  }
  try {
    const p = JSON.parse(text) as Pointer
    return p && p.format === 'unet-checkpoint-pointer' && typeof p.folder === 'string' && !p.folder.includes('/') && !p.folder.includes('\\') ? p : null
  } catch {
    return null
  }
}

/**
 * Writes a checkpoint into slot `slot` (e.g. `last`, `best`) of the folder `dir`, so that every state the disk can
 * be left in by a crash is recoverable:
 *
 * 1. the model (tfjs layers format), optimizer state and training state go into a temp folder `.tmp-…`;
 * 2. the temp folder is renamed to the next version, `<slot>-000012`;
 * 3. the pointer file `<slot>.json` is replaced atomically to name it;
 * 4. only then is the previous version removed.
 *
 * A crash before 3 leaves the pointer on the previous, intact version; after it, on the new one. Leftovers (temp
 * folders, versions no pointer names) are removed by {@link cleanCheckpoints} on the next start.
 *
 * @param dir - the checkpoint folder (e.g. RUN/checkpoints)
 * @param slot - the slot name
 * @param content - the model, and optionally the optimizer and training state
 * @param options - a hook run once the new version is committed
 * @returns the new version's folder
 * @throws {@link TrainError} `CHECKPOINT_WRITE` with what to do (disk full, permissions)
 * @example
 * ```ts
 * await saveCheckpoint('runs/a/checkpoints', 'last', { model, optimizer: await saveOptimizerState(opt), state })
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  slot: string,
  content: { model: LayersModel; optimizer?: OptimizerState | null; state?: TrainingState | null },
  options: SaveCheckpointOptions = {},
): Promise<string> {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(slot)) throw new TrainError('BAD_OPTION', `checkpoint slot ${JSON.stringify(slot)}: use letters, digits, _ . -`)
  counter += 1
  const tmp = join(dir, `${TEMP}${slot}-${process.pid}-${counter}`)
  const previous = readPointer(dir, slot)
  const next = Math.max(0, ...versionFolders(dir, slot).map((v) => v.version)) + 1
  const name = `${slot}-${String(next).padStart(6, '0')}`
  const folder = join(dir, name)
  let where = tmp
  try {
    await ensureFolder(dir)
    await mkdir(tmp)
    await saveModel(content.model, tmp)
    options.beforeStep?.('write-temp', tmp)
    if (content.optimizer) {
      const { json, bin } = encodeOptimizer(content.optimizer)
      await writeFileAtomic(join(tmp, 'optimizer.bin'), bin)
      await writeFileAtomic(join(tmp, 'optimizer.json'), json)
    }
    if (content.state) await writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(content.state, null, 1))
    await syncDir(tmp)
    options.beforeStep?.('rename-folder', folder)
    where = folder
    await rename(tmp, folder)
    await syncDir(dir)
    options.beforeStep?.('write-pointer', join(dir, `${slot}.json`))
    where = join(dir, `${slot}.json`)
    const pointer: Pointer = { format: 'unet-checkpoint-pointer', version: 1, folder: name }
    await writeFileAtomic(where, JSON.stringify(pointer) + '\n')
  } catch (cause) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined)
    if (cause instanceof TrainError) throw cause
    throw new TrainError('CHECKPOINT_WRITE', `could not save the ${slot} checkpoint at ${where}: ${(cause as Error).message}; the previous one${previous ? ` (${previous.folder})` : ''} is intact — free disk space or fix permissions`, { cause })
  }
  await options.committed?.(folder)
  if (previous && previous.folder !== name) {
    options.beforeStep?.('remove-previous', join(dir, previous.folder))
    await rm(join(dir, previous.folder), { recursive: true, force: true }).catch(() => undefined)
  }
  return folder
}

/**
 * The folder holding a slot's current checkpoint, or null when there is none.
 *
 * @param dir - the checkpoint folder
 * @param slot - e.g. `last`
 * @returns the version folder (holding model.json), or null
 * @example
 * ```ts
 * const folder = findCheckpoint('runs/a/checkpoints', 'best')
 * ```
 */
export function findCheckpoint(dir: string, slot: string): string | null {
  const p = readPointer(dir, slot)
  if (!p) return null
  const folder = join(dir, p.folder)
  return existsSync(join(folder, 'model.json')) ? resolve(folder) : null
}

/**
 * Removes what crashed saves left: temp folders, and version folders that no pointer (and nothing in `keep`)
 * names. Run it before training starts, never while another process trains in `dir`.
 *
 * @param dir - the checkpoint folder
 * @param keep - other folders to keep (e.g. the one run.json names)
 * @returns the names removed
 * @example
 * ```ts
 * await cleanCheckpoints('runs/a/checkpoints')
 * ```
 */
export async function cleanCheckpoints(dir: string, keep: readonly string[] = []): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const referenced = new Set(keep.map((k) => resolve(k)))
  for (const n of names) {
    if (!n.endsWith('.json')) continue
    const p = readPointer(dir, n.slice(0, -'.json'.length))
    if (p) referenced.add(resolve(dir, p.folder))
  }
  const removed: string[] = []
  for (const n of names) {
    const full = resolve(dir, n)
    const stray = n.startsWith(TEMP) || (/-\d{6,}$/.test(n) && !referenced.has(full))
    if (!stray) continue
    await rm(full, { recursive: true, force: true })
    removed.push(n)
  }
  return removed
}

/**
 * Reads a checkpoint's training state.
 *
 * @param dir - the checkpoint folder
 * @param slot - e.g. `last`
 * @returns the state
 * @throws {@link TrainError} `NO_CHECKPOINT`
 * @example
 * ```ts
 * const state = await readState('runs/a/checkpoints', 'last')
 * ```
 */
export async function readState(dir: string, slot: string): Promise<TrainingState> {
  const folder = findCheckpoint(dir, slot)
  if (!folder) throw new TrainError('NO_CHECKPOINT', `no ${slot} checkpoint in ${dir} (no ${slot}.json naming a folder with model.json); train first`)
  try {
    return JSON.parse(await readFile(join(folder, 'state.json'), 'utf8')) as TrainingState
  } catch (cause) {
    throw new TrainError('NO_CHECKPOINT', `${join(folder, 'state.json')} is unreadable (${(cause as Error).message}); the run cannot be resumed from it`, { cause })
  }
}

/**
 * Loads a checkpoint: the model (uncompiled), and the training and optimizer state when it has them.
 *
 * @param dir - the checkpoint folder
 * @param slot - e.g. `best`
 * @returns model, state, optimizer state and the folder
 * @throws {@link TrainError} `NO_CHECKPOINT`
 * @example
 * ```ts
 * const { model, state } = await loadCheckpoint('runs/a/checkpoints', 'best')
 * ```
 */
export async function loadCheckpoint(
  dir: string,
  slot: string,
): Promise<{ model: LayersModel; state: TrainingState | null; optimizer: OptimizerState | null; folder: string }> {
  const folder = findCheckpoint(dir, slot)
  if (!folder) throw new TrainError('NO_CHECKPOINT', `no ${slot} checkpoint in ${dir}; train first`)
  let model: LayersModel
  try {
    model = await loadModel(folder)
  } catch (cause) {
    throw new TrainError('NO_CHECKPOINT', `cannot load the model in ${folder}: ${(cause as Error).message}`, { cause })
  }
  const state = existsSync(join(folder, 'state.json')) ? await readState(dir, slot) : null
  let optimizer: OptimizerState | null = null
  if (existsSync(join(folder, 'optimizer.json'))) {
    const meta = JSON.parse(await readFile(join(folder, 'optimizer.json'), 'utf8')) as {
      className: string
      variables: { name: string; shape: number[]; dtype: 'float32' | 'int32'; offset: number; length: number }[]
    }
    const bin = await readFile(join(folder, 'optimizer.bin'))
    optimizer = {
      className: meta.className,
      variables: meta.variables.map((v) => {
        const slice = bin.buffer.slice(bin.byteOffset + v.offset, bin.byteOffset + v.offset + v.length)
        return { name: v.name, shape: v.shape, dtype: v.dtype, values: v.dtype === 'int32' ? new Int32Array(slice) : new Float32Array(slice) }
      }),
    }
  }
  return { model, state, optimizer, folder }
}

function encodeOptimizer(state: OptimizerState): { json: string; bin: Uint8Array } {
  const specs: (Omit<SavedVariable, 'values'> & { offset: number; length: number })[] = []
  const chunks: Uint8Array[] = []
  let offset = 0
  for (const v of state.variables) {
    const bytes = new Uint8Array(v.values.buffer, v.values.byteOffset, v.values.byteLength)
    specs.push({ name: v.name, shape: v.shape, dtype: v.dtype, offset, length: bytes.byteLength })
    chunks.push(bytes)
    offset += bytes.byteLength
  }
  const bin = new Uint8Array(offset)
  let o = 0
  for (const c of chunks) {
    bin.set(c, o)
    o += c.byteLength
  }
  return { json: JSON.stringify({ className: state.className, variables: specs }, null, 1), bin }
}

/**
 * Copies a saved model's weights into `model` (same architecture), exactly.
 *
 * @param model - the model to fill
 * @param folder - a folder holding model.json
 * @returns once copied
 * @example
 * ```ts
 * await loadWeightsInto(model, findCheckpoint('runs/a/checkpoints', 'last')!)
 * ```
 */
export async function loadWeightsInto(model: LayersModel, folder: string): Promise<void> {
  const saved = await loadModel(folder)
  try {
    const weights = saved.getWeights()
    if (weights.length !== model.getWeights().length) {
      throw new TrainError('NO_CHECKPOINT', `the checkpoint in ${folder} has ${weights.length} weight tensors but the model has ${model.getWeights().length}; resume with the architecture it was trained with`)
    }
    model.setWeights(weights)
  } finally {
    saved.dispose()
  }
}
