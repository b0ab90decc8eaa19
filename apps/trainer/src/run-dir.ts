import { existsSync, readdirSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { findCheckpoint, readState, type TrainingState } from '@unet/train'
import { TrainerError } from './errors'
import type { TrainConfig } from './config'

/** A finished (or best-so-far) run, as evaluate and predict use it. */
export interface RunInfo {
  runDir: string
  config: TrainConfig
  /** The best checkpoint's folder. */
  bestDir: string
  /** The best checkpoint's state (holds the chosen threshold). */
  state: TrainingState
}

/**
 * The newest run folder under `runs/` (relative to `cwd`) that has a best
 * checkpoint — what `--model` defaults to.
 *
 * @param cwd - where to look for `runs/`
 * @returns the folder, or null
 * @example
 * ```ts
 * const dir = latestRun(process.cwd())
 * ```
 */
export function latestRun(cwd: string): string | null {
  const root = join(cwd, 'runs')
  if (!existsSync(root)) return null
  const candidates = readdirSync(root)
    .map((name) => join(root, name))
    .filter((dir) => findCheckpoint(join(dir, 'checkpoints'), 'best') !== null)
    .map((dir) => ({ dir, time: statSync(join(dir, 'config.json')).mtimeMs }))
    .sort((a, b) => b.time - a.time)
  return candidates[0]?.dir ?? null
}

/**
 * Opens a run folder written by `unet train`.
 *
 * @param dir - the run folder
 * @returns its config, best checkpoint folder and state
 * @example
 * ```ts
 * const run = await openRun('runs/latest')
 * ```
 */
export async function openRun(dir: string | undefined): Promise<RunInfo> {
  const runDir = dir ? resolve(dir) : latestRun(process.cwd())
  if (!runDir) throw new TrainerError('NO_RUN', 'no run given and none found under ./runs; pass --model RUN_DIR (a folder written by `unet train`)')
  if (!existsSync(join(runDir, 'config.json'))) {
    throw new TrainerError('NO_RUN', `${runDir} is not a run folder (no config.json); pass --model with a folder written by \`unet train\``)
  }
  const bestDir = findCheckpoint(join(runDir, 'checkpoints'), 'best') as string
  if (!bestDir) {
    throw new TrainerError('NO_CHECKPOINT', `${runDir} has no best checkpoint yet (no finished epoch); train longer with \`unet train --out ${dir ?? runDir} --resume\``)
  }
  const config = JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8')) as TrainConfig
  return { runDir, config, bestDir, state: await readState(join(runDir, 'checkpoints'), 'best') }
}
