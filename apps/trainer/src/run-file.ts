import { dirname, join, relative } from 'node:path'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { HAS_MASK_OUTPUT } from '@unet/layers'
import { writeFileAtomic } from '@unet/files'
import { parseRunFile, type RunFile } from '@unet/predict'
import { findCheckpoint, MONITORS, type BestEpoch } from '@unet/train'
import type { TrainConfig } from './config'
import { prepareSpec } from './data'
import { DEFAULT_EMPTY_THRESHOLD, modelChannels, outputsLogits } from './model'

/**
 * The run.json of a run (docs/run-format.md, version 2): what predict, serve and the web page read to use the
 * best model without knowing anything of training.
 *
 * @param runDir - the run folder
 * @param config - the resolved config
 * @param best - the best epoch (monitor value, epoch, threshold)
 * @param bestFolder - the folder holding the best model.json
 * @param layout - the data's layout
 * @param snapshots - the cosine snapshot folders (default: those committed in RUN/checkpoints)
 * @returns the run file
 * @example
 * ```ts
 * const run = runFileOf('runs/a', config, best, 'runs/a/checkpoints/best-000003')
 * ```
 */
export function runFileOf(runDir: string, config: TrainConfig, best: BestEpoch, bestFolder: string, layout: RunFile['layout'], snapshots: readonly string[] = snapshotFolders(join(runDir, 'checkpoints'))): RunFile {
  const monitor = best.monitor
  const spec = prepareSpec(config)
  // how each layout's Kaggle submissions number pixels and name images
  const rle: RunFile['rle'] =
    layout === 'carvana' ? { order: 'row', idColumn: 'img', idSuffix: '.jpg' } : layout === 'folders' ? { order: 'row', idColumn: 'id', idSuffix: '' } : { order: 'column', idColumn: 'id', idSuffix: '' }
  return {
    format: 'unet-run',
    version: 2,
    model: relative(runDir, join(bestFolder, 'model.json')).split('\\').join('/'),
    input: { width: spec.width, height: spec.height, channels: modelChannels(config) },
    prepare: spec.mode === 'resize' ? { mode: 'resize', interpolation: 'bilinear' } : { mode: spec.mode, pad: 'reflect', interpolation: 'bilinear' },
    scale: 'unit',
    output: { classes: 1, activation: outputsLogits(config) ? 'linear' : 'sigmoid' },
    threshold: best.threshold,
    rle,
    layout,
    monitor: { name: monitor, mode: MONITORS[monitor].mode, best: Number.isFinite(best.value) ? best.value : null, epoch: best.epoch },
    encoder: config.encoder,
    ...(config.deepSupervision ? { emptyClassifier: { output: HAS_MASK_OUTPUT, threshold: DEFAULT_EMPTY_THRESHOLD } } : {}),
    ...(snapshots.length > 0 ? { snapshots: snapshots.map((folder) => relative(runDir, join(folder, 'model.json')).split('\\').join('/')) } : {}),
  }
}

/**
 * The cosine-cycle snapshot folders of a run's checkpoints, first cycle first (`snapshot-cycle-<n>` pointers).
 *
 * @param checkpoints - the run's checkpoints folder
 * @returns the committed snapshot folders
 * @example
 * ```ts
 * snapshotFolders('runs/a/checkpoints') // ['/…/snapshot-cycle-1-000008', '/…/snapshot-cycle-2-000016']
 * ```
 */
export function snapshotFolders(checkpoints: string): string[] {
  if (!existsSync(checkpoints)) return []
  return readdirSync(checkpoints)
    .map((name) => /^(snapshot-cycle-(\d+))\.json$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[2]) - Number(b[2]))
    .map((m) => findCheckpoint(checkpoints, m[1] as string))
    .filter((f): f is string => f !== null)
}

/**
 * Writes RUN/run.json atomically, after checking it against @unet/predict's reader (so what train writes is what
 * predict reads).
 *
 * @param runDir - the run folder
 * @param run - the run file
 * @returns once written
 * @example
 * ```ts
 * await writeRunFile('runs/a', runFileOf('runs/a', config, best, folder))
 * ```
 */
export async function writeRunFile(runDir: string, run: RunFile): Promise<void> {
  const text = JSON.stringify(run, null, 2) + '\n'
  parseRunFile(JSON.parse(text), join(runDir, 'run.json'))
  await writeFileAtomic(join(runDir, 'run.json'), text)
}

/**
 * The folder of the model run.json names, or null (no run.json yet, or unreadable): kept when stray checkpoint
 * folders are cleaned up.
 *
 * @param runDir - the run folder
 * @returns the folder, or null
 * @example
 * ```ts
 * runFileModelFolder('runs/a') // '/…/runs/a/checkpoints/best-000003'
 * ```
 */
export function runFileModelFolder(runDir: string): string | null {
  try {
    const run = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { model?: unknown }
    return typeof run.model === 'string' ? dirname(join(runDir, run.model)) : null
  } catch {
    return null
  }
}
