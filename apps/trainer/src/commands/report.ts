import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { findCheckpoint, readState, type EpochLogs } from '@unet/train'
import type { TrainConfig } from '../config'
import { loadRunData } from '../data'
import { TrainerError } from '../errors'
import { modelChannels, runLosses } from '../model'
import { startBackend } from '../backend'
import { writeReport } from '../report'
import { monitorOf } from '../train'
import { backendOption } from './options'

/**
 * Draws a run's report again from what the run folder holds (config, history, best checkpoint): after a report
 * failed (a full disk), after an interrupted run, or any time.
 *
 * @param runDir - the run folder
 * @param backend - the backend to predict with
 * @returns the report's index.html
 * @example
 * ```ts
 * await regenerateReport('runs/a')
 * ```
 */
export async function regenerateReport(runDir: string, backend?: TrainConfig['backend']): Promise<string> {
  const dir = resolve(runDir)
  if (!existsSync(join(dir, 'config.json'))) throw new TrainerError('NO_RUN', `${dir} is not a run folder (no config.json); give a folder written by \`unet train\``)
  const checkpoints = join(dir, 'checkpoints')
  if (!findCheckpoint(checkpoints, 'best')) throw new TrainerError('NO_CHECKPOINT', `${dir} has no best checkpoint yet (no finished epoch); train longer with \`unet train --out ${runDir} --resume\``)
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as TrainConfig
  const last = findCheckpoint(checkpoints, 'last') ? await readState(checkpoints, 'last') : await readState(checkpoints, 'best')
  const history: EpochLogs[] = last.history
  const name = await startBackend({ backend: backend ?? config.backend, threads: config.threads })
  const data = await loadRunData({ ...config, skipBad: true }, config.channels ?? modelChannels(config))
  const lossFn = runLosses(config).last
  try {
    return await writeReport({
      runDir: dir,
      config,
      data,
      history,
      summary: { monitor: monitorOf(config), best: last.best, stopReason: last.stopReason ?? { kind: 'interrupted' }, backend: name },
      resolveLoss: () => lossFn,
    })
  } finally {
    await data.close?.()
  }
}

/** Adds `unet report RUN`. */
export function addReportCommand(program: Command): void {
  program
    .command('report')
    .description("Draw a run's HTML/PNG report again from its run folder (after a failed or skipped report, or any time).")
    .argument('<run_dir>', 'run folder written by `unet train`')
    .addOption(backendOption())
    .action(async (runDir: string, opts: { backend?: TrainConfig['backend'] }) => {
      const index = await regenerateReport(runDir, opts.backend)
      process.stdout.write(`wrote ${index}\n`)
    })
}
