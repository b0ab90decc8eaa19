import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { readModel, writeModel } from './model-io'
import { resolveSwappedDir, swapDirAtomic } from './atomic'
import { TrainerError } from './errors'
import type { EpochLogs } from './callbacks'
import type { TrainConfig } from './config'

/** Where a run stands; `state.json` in each checkpoint folder. */
export interface TrainingState {
  /** Format version of this file. */
  version: 1
  /** Epoch to run next (0-based); equals the number of finished epochs when `step` is 0. */
  epoch: number
  /** Step within `epoch` to run next (non-zero when a run was cut mid-epoch). */
  step: number
  /** Optimizer steps taken so far. */
  globalStep: number
  /** Sum of (loss × images) and image count so far in the unfinished epoch. */
  partialEpoch: { lossSum: number; images: number; seconds: number }
  /** Learning rate now. */
  lr: number
  /** Seconds of training so far, over all sessions. */
  elapsedSeconds: number
  /** One entry per finished epoch. */
  history: EpochLogs[]
  /** Per-callback state. */
  callbacks: Record<string, unknown>
  /** Best validation TGS score so far, its epoch and threshold. */
  best: { score: number; epoch: number; threshold: number } | null
  /** Why training stopped, when it has. */
  stopReason: string | null
  /** Whether the run is over (all epochs done, or stopped by a callback). */
  finished: boolean
  /** The run's config. */
  config: TrainConfig
}

/** An optimizer slot variable, as `optimizer.getWeights()` lists them. */
export interface NamedTensor {
  name: string
  tensor: tf.Tensor
}

let tmpCounter = 0

/**
 * Writes a checkpoint folder atomically: the model (tfjs layers format via
 * @unet/runtime), the optimizer's slots (`optimizer.json` + `optimizer.bin`)
 * and `state.json` go to a temp folder beside `dir`, which then replaces `dir`.
 *
 * @param dir - checkpoint folder (e.g. RUN_DIR/last)
 * @param model - the model
 * @param optimizer - its optimizer, or null to leave optimizer state out
 * @param state - the training state
 * @returns once the folder is in place
 * @example
 * ```ts
 * await saveCheckpoint('runs/a/last', model, optimizer, state)
 * ```
 */
export async function saveCheckpoint(dir: string, model: LayersModel, optimizer: tf.Optimizer | null, state: TrainingState): Promise<void> {
  tmpCounter += 1
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${tmpCounter}`)
  await rm(tmp, { recursive: true, force: true })
  await mkdir(dirname(dir), { recursive: true })
  try {
    await writeModel(model, tmp)
    if (optimizer) {
      const named = await optimizer.getWeights()
      const specs: { name: string; shape: number[]; dtype: string; offset: number; length: number }[] = []
      const chunks: Uint8Array[] = []
      let offset = 0
      for (const { name, tensor } of named) {
        const data = await tensor.data()
        const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
        specs.push({ name, shape: tensor.shape, dtype: tensor.dtype, offset, length: bytes.byteLength })
        chunks.push(bytes)
        offset += bytes.byteLength
      }
      // getWeights hands out the optimizer's own slot variables (keep them) and a fresh iteration count (dispose it)
      tf.dispose(named.map((n) => n.tensor).filter((t) => !(t instanceof tf.Variable)))
      await writeFile(join(tmp, 'optimizer.bin'), Buffer.concat(chunks))
      await writeFile(join(tmp, 'optimizer.json'), JSON.stringify({ className: optimizer.getClassName(), weights: specs }, null, 1))
    }
    await writeFile(join(tmp, 'state.json'), JSON.stringify(state, null, 1))
    await swapDirAtomic(tmp, dir)
  } catch (cause) {
    await rm(tmp, { recursive: true, force: true })
    if (cause instanceof TrainerError) throw cause
    throw new TrainerError('WRITE_FAILED', `could not save the checkpoint ${dir}: ${(cause as Error).message}; check free disk space and permissions`, { cause })
  }
}

/**
 * Finds the usable folder of a checkpoint (the folder itself, or the copy a
 * cut-short swap left aside), or null when none exists.
 *
 * @param dir - checkpoint folder
 * @returns the folder holding `state.json`, or null
 * @example
 * ```ts
 * const found = findCheckpoint('runs/a/last')
 * ```
 */
export function findCheckpoint(dir: string): string | null {
  for (const candidate of resolveSwappedDir(dir)) {
    if (existsSync(join(candidate, 'state.json')) && existsSync(join(candidate, 'model.json'))) return candidate
  }
  return null
}

/**
 * Reads a checkpoint's training state.
 *
 * @param dir - checkpoint folder
 * @returns the state
 * @example
 * ```ts
 * const state = await readState('runs/a/last')
 * ```
 */
export async function readState(dir: string): Promise<TrainingState> {
  const found = findCheckpoint(dir)
  if (!found) throw new TrainerError('NO_CHECKPOINT', `no checkpoint in ${dir}; train first with \`unet train --out ${dirname(dir)}\``)
  try {
    return JSON.parse(await readFile(join(found, 'state.json'), 'utf8')) as TrainingState
  } catch (cause) {
    throw new TrainerError('NO_CHECKPOINT', `${join(found, 'state.json')} is unreadable (${(cause as Error).message}); the run cannot be resumed from it`, { cause })
  }
}

/**
 * Loads a checkpoint: model, training state and (if saved) optimizer slots.
 *
 * @param dir - checkpoint folder
 * @returns the model, its state and the optimizer's named weights (caller disposes them)
 * @example
 * ```ts
 * const { model, state } = await loadCheckpoint('runs/a/best')
 * ```
 */
export async function loadCheckpoint(dir: string): Promise<{ model: LayersModel; state: TrainingState; optimizerWeights: NamedTensor[] | null }> {
  const state = await readState(dir)
  const found = findCheckpoint(dir) as string
  let model: LayersModel
  try {
    model = await readModel(found)
  } catch (cause) {
    throw new TrainerError('NO_CHECKPOINT', `cannot load the model in ${found}: ${(cause as Error).message}`, { cause })
  }
  let optimizerWeights: NamedTensor[] | null = null
  if (existsSync(join(found, 'optimizer.json'))) {
    const meta = JSON.parse(await readFile(join(found, 'optimizer.json'), 'utf8')) as {
      weights: { name: string; shape: number[]; dtype: string; offset: number; length: number }[]
    }
    const bin = await readFile(join(found, 'optimizer.bin'))
    optimizerWeights = meta.weights.map((w) => {
      const slice = bin.buffer.slice(bin.byteOffset + w.offset, bin.byteOffset + w.offset + w.length)
      const values = w.dtype === 'int32' ? new Int32Array(slice) : new Float32Array(slice)
      return { name: w.name, tensor: tf.tensor(values, w.shape, w.dtype as 'float32' | 'int32') }
    })
  }
  return { model, state, optimizerWeights }
}
