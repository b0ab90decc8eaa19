import type { LayersModel } from '@tensorflow/tfjs-layers'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ensureFolder, writeFileAtomic } from '@unet/files'
import {
  bestCheckpoint,
  cleanCheckpoints,
  csvLogger,
  cycleSnapshots,
  describeStop,
  earlyStopping,
  findCheckpoint,
  fit,
  readState,
  reduceLrOnPlateau,
  resolveMonitor,
  stepsPerEpoch,
  stopOnNaN,
  timeLimit,
  type BestEpoch,
  type Callback,
  type EpochLogs,
  type LrSchedule,
  type MonitorName,
  type StopReason,
} from '@unet/train'
import { DEFAULT_TRAIN_CONFIG, RESUMABLE_KEYS, validateTrainConfig, type TrainConfig } from './config'
import { checkMonitor, unproducibleMonitors } from './checks'
import { fitData, layoutOf, loadRunData, type RunData } from './data'
import { TrainerError } from './errors'
import { buildModel, outputsLogits, runLosses } from './model'
import { formatTable, silentReporter, type TrainReporter } from './progress'
import { learningStrip, STRIP_IMAGES } from './progress-strip'
import { pickShowcase, writeReport } from './report'
import { runFileModelFolder, runFileOf, writeRunFile } from './run-file'
import { startBackend } from './backend'

/** Options of {@link train}. */
export interface TrainOptions {
  /** Continue the run in `config.out` from its last checkpoint. */
  resume?: boolean
  /** Aborting it saves a checkpoint after the current step and returns (what Ctrl-C does). */
  signal?: AbortSignal
  /** Progress output; silent by default. */
  reporter?: TrainReporter
  /** Write the HTML/PNG report at the end (default true). */
  report?: boolean
  /** Config keys the user set explicitly (flags or config file); on resume only these may override the saved config. */
  explicitKeys?: readonly string[]
  /** Only for tests: the loss seen at a step is replaced by this (to test NaN handling). */
  lossOverride?: (globalStep: number, loss: number) => number
}

/** What {@link train} returns. */
export interface TrainSummary {
  /** The run folder. */
  runDir: string
  /** Why training stopped (a value; `describeStop` words it). */
  stopReason: StopReason
  /** Whether the run is over (false when interrupted or stopped by the time limit: `--resume` continues it). */
  finished: boolean
  /** Epochs finished so far. */
  epochs: number
  /** Optimizer steps so far. */
  steps: number
  /** Best epoch by the monitor: its value, epoch (0-based) and threshold. */
  best: BestEpoch | null
  /** The monitor. */
  monitor: MonitorName
  /** Score of predicting empty masks on the validation set, by the monitor (TGS score or Dice). */
  emptyBaseline: number
  /** Training seconds in this session (excluding the report). */
  seconds: number
  /** Training images per second in this session. */
  imagesPerSecond: number
  /** Per-epoch logs. */
  history: EpochLogs[]
  /** Backend trained on. */
  backend: string
  /** Files of the dataset that were skipped (with --skip-bad). */
  skipped: number
  /** Where the report is, or null when none was written (and a warning says why, when it failed). */
  report: string | null
}

/** The monitor a run uses: the configured one (train resolves it by the data: val_tgs on TGS data, val_dice elsewhere). */
export function monitorOf(config: TrainConfig): MonitorName {
  return config.monitor ?? 'val_tgs'
}

function scheduleOf(config: TrainConfig): LrSchedule {
  switch (config.lrSchedule) {
    case 'plateau':
      return { name: 'plateau', patience: config.lrPatience, factor: config.lrFactor, minLr: config.minLr }
    case 'cosine':
      return { name: 'cosine', cycleEpochs: config.lrCycleEpochs, cycleMult: config.lrCycleMult, minLr: config.minLr }
    case 'step':
      return { name: 'step', everyEpochs: config.lrStepEpochs, factor: config.lrFactor }
    case 'none':
      return { name: 'none' }
  }
}

/**
 * Trains a U-Net: the `unet train` command as a function, over @unet/train's `fit`. Writes to `config.out`:
 * `config.json`, `run.json` (the prediction contract), `checkpoints/` (last, best, cycle snapshots),
 * `history.json`/`.csv`, `skipped.json` (with --skip-bad) and `report/`.
 *
 * @param config - the resolved config (see `resolveTrainConfig`)
 * @param options - resume, abort signal, reporter
 * @returns the summary
 * @example
 * ```ts
 * const summary = await train(resolveTrainConfig({ out: 'runs/tiny', synthTrain: 40, imageSize: 32, epochs: 1 }))
 * ```
 */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainSummary> {
  const reporter = options.reporter ?? silentReporter()
  const runDir = resolve(config.out)
  const checkpoints = join(runDir, 'checkpoints')

  if (options.resume) {
    if (!findCheckpoint(checkpoints, 'last')) {
      throw new TrainerError('NO_CHECKPOINT', `--resume: ${runDir} holds no checkpoint (no checkpoints/last.json); start a new run without --resume`)
    }
    // keys added since the run was saved take their defaults (a run saved before `cacheDir` existed did not cache)
    const saved = { ...DEFAULT_TRAIN_CONFIG, ...(JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8')) as TrainConfig) }
    config = mergeResumeConfig(saved, config, options.explicitKeys ?? [])
    const state = await readState(checkpoints, 'last')
    if (state.finished && !(state.stopReason?.kind === 'completed' && config.epochs > state.epoch)) {
      const kind = state.stopReason ? describeStop(state.stopReason) : 'finished'
      const what = state.stopReason?.kind === 'completed' ? `raise --epochs above ${state.epoch} to train further` : 'start a new run (other --out) to train again'
      throw new TrainerError('BAD_FLAG', `the run in ${runDir} has finished (${kind}); ${what}`)
    }
  } else if (findCheckpoint(checkpoints, 'last')) {
    throw new TrainerError('BAD_FLAG', `${runDir} already holds a run; pass --resume to continue it, or choose another --out`)
  }
  validateTrainConfig(config)
  const layout = await layoutOf(config)
  config = { ...config, monitor: config.monitor ?? (layout === 'tgs' || layout === 'synthetic' ? 'val_tgs' : 'val_dice') }
  const monitor = resolveMonitor(monitorOf(config))

  const backend = await startBackend(config)
  const losses = runLosses(config)
  const data = await loadRunData(config, config.channels)
  try {
    return await trainOn(data, config, monitor, layout, backend, losses, options)
  } finally {
    await data.close?.()
  }
}

async function trainOn(
  data: RunData,
  config: TrainConfig,
  monitor: ReturnType<typeof resolveMonitor>,
  layout: Awaited<ReturnType<typeof layoutOf>>,
  backend: string,
  losses: ReturnType<typeof runLosses>,
  options: TrainOptions,
): Promise<TrainSummary> {
  const lossFn = losses.last
  const reporter = options.reporter ?? silentReporter()
  const runDir = resolve(config.out)
  const checkpoints = join(runDir, 'checkpoints')
  // channels come from the data (grey stays grey, RGB stays RGB) and are saved with the run
  config = { ...config, channels: data.train.channels }
  validateTrainConfig(config)
  if ((options.explicitKeys ?? []).includes('monitor') || options.resume) checkMonitor(monitor.name, data, data.source)
  else if (unproducibleMonitors(data).some((p) => p.monitor === monitor.name)) {
    reporter.warn(`${monitor.name} cannot judge ${data.source} (${unproducibleMonitors(data)[0]?.reason}); monitoring val_loss instead`)
    config = { ...config, monitor: 'val_loss' }
    monitor = resolveMonitor('val_loss')
  }
  await checkSkipped(data, config, runDir, reporter)

  await ensureFolder(runDir)
  // leftovers of a crash (temp folders, versions no pointer names) go before anything else is written
  const removed = await cleanCheckpoints(checkpoints, [runFileModelFolder(runDir)].filter((f): f is string => f !== null))
  if (removed.length > 0) reporter.note(`removed ${removed.length} leftover checkpoint folder(s) of an interrupted save: ${removed.join(', ')}`)
  await writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n')
  const bestNow = findCheckpoint(checkpoints, 'best')
  if (options.resume && bestNow) {
    // a crash between the best checkpoint's pointer and run.json leaves run.json one version behind: catch up
    const st = await readState(checkpoints, 'best')
    if (st.best) await writeRunFile(runDir, runFileOf(runDir, config, st.best, bestNow, layout))
  }

  const model: LayersModel = await buildModel(config)
  const schedule = scheduleOf(config)
  const steps = stepsPerEpoch(data.train.count, config.batchSize)
  const best = bestCheckpoint({ monitor: monitor.name })
  const callbacks: Callback[] = [stopOnNaN(), best, csvLogger(join(runDir, 'history.csv'))]
  if (config.patience > 0) callbacks.push(earlyStopping({ monitor: monitor.name, patience: config.patience }))
  if (schedule.name === 'plateau' && schedule.patience > 0) callbacks.push(reduceLrOnPlateau({ monitor: monitor.name, ...schedule }))
  if (schedule.name === 'cosine') callbacks.push(cycleSnapshots(schedule))
  if (config.timeLimit > 0) callbacks.push(timeLimit(config.timeLimit))
  callbacks.push(progressCallback(reporter, config, monitor.name))
  if (config.reportImages > 0) callbacks.push(learningStrip({ runDir, data, config, indices: stripIndices(data) }))

  let resumedStep = { epoch: 0, step: 0 }
  if (options.resume) {
    const st = await readState(checkpoints, 'last')
    resumedStep = { epoch: st.epoch, step: st.step }
  }
  reporter.start({
    runDir,
    backend,
    trainCount: data.train.count,
    validationCount: data.validation.count,
    epochs: config.epochs,
    stepsPerEpoch: steps,
    startEpoch: resumedStep.epoch,
    startStep: resumedStep.step,
    params: model.countParams(),
    source: data.source,
  })

  let result
  try {
    result = await fit(model, fitData(data, config), {
      epochs: config.epochs,
      batchSize: config.batchSize,
      optimizer: { name: config.optimizer, learningRate: config.lr, momentum: config.momentum, weightDecay: config.weightDecay },
      loss: losses.loss,
      ...(losses.lossSchedule ? { lossSchedule: losses.lossSchedule } : {}),
      ...(losses.outputsLoss ? { outputsLoss: losses.outputsLoss } : {}),
      logits: outputsLogits(config),
      monitor: monitor.name,
      schedule,
      callbacks,
      checkpoints,
      resume: options.resume === true,
      seed: config.seed,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.lossOverride ? { lossOverride: options.lossOverride } : {}),
      onWarning: (text) => reporter.warn(text),
      onEpochStart: ({ epoch, startStep, stepsPerEpoch: n }) => reporter.epochStart(epoch, config.epochs, n, startStep),
      onCheckpoint: async (info) => {
        reporter.checkpoint({ which: info.which, dir: info.folder, epoch: info.epoch, step: info.step, globalStep: info.globalStep })
        // run.json follows the best model and lists the cycle snapshots, before a previous folder is removed
        if (info.which === 'best' || info.which.startsWith('snapshot-cycle-')) {
          const st = await readState(checkpoints, 'best')
          const bestFolder = info.which === 'best' ? info.folder : findCheckpoint(checkpoints, 'best')
          if (st.best && bestFolder) await writeRunFile(runDir, runFileOf(runDir, config, st.best, bestFolder, layout))
        }
      },
    })
  } finally {
    model.dispose()
  }

  const broken = result.stopReason.kind === 'nan_loss'
  if (!broken) {
    reporter.note(`checkpoint saved: ${join(checkpoints, 'last.json')}${result.finished ? '' : ` (continue with: unet train --out ${config.out} --resume)`}`)
  } else {
    reporter.note(`stopped: ${describeStop(result.stopReason)}; ${result.best ? `best checkpoint (epoch ${result.best.epoch + 1}) kept` : 'no checkpoint was saved'}`)
  }
  try {
    await writeFileAtomic(join(runDir, 'history.json'), JSON.stringify(result.history, null, 2) + '\n')
  } catch (cause) {
    // the checkpoints hold the history too; a full disk here must not fail a finished run
    reporter.warn(`could not write ${join(runDir, 'history.json')} (${(cause as Error).message}); the history is kept in the checkpoints`)
  }

  const v = result.lastValidation
  const emptyBaseline = v ? (monitor.name === 'val_tgs' ? v.baselines.empty.tgs : v.baselines.empty.dice) : baselineOf(data)
  const summary: TrainSummary = {
    runDir,
    stopReason: result.stopReason,
    finished: result.finished,
    epochs: result.history.length,
    steps: result.steps,
    best: result.best,
    monitor: monitor.name,
    emptyBaseline,
    seconds: result.seconds,
    imagesPerSecond: result.imagesPerSecond,
    history: result.history,
    backend,
    skipped: data.skipped?.length ?? 0,
    report: null,
  }

  // an interrupted run exits at once (`unet report RUN` draws its report any time)
  if (options.report !== false && result.stopReason.kind !== 'interrupted' && result.best && findCheckpoint(checkpoints, 'best')) {
    try {
      summary.report = await writeReport({ runDir, config, data, history: result.history, summary, resolveLoss: () => lossFn })
    } catch (cause) {
      // the run's result stands: the checkpoints, run.json and history are on disk
      reporter.warn(`could not write the report in ${join(runDir, 'report')} (${(cause as Error).message}); the run is complete — regenerate it later with: unet report ${config.out}`)
    }
  }
  reporter.end(summary as unknown as Record<string, unknown>, summaryTable(summary))
  return summary
}

async function checkSkipped(data: RunData, config: TrainConfig, runDir: string, reporter: TrainReporter): Promise<void> {
  const skipped = data.skipped ?? []
  if (skipped.length === 0) return
  const list = skipped.map((p) => `${p.file ?? p.id}: ${p.message}`)
  const where = config.data ?? `${config.images} + ${config.masks}`
  if (!config.skipBad) {
    const shown = list.slice(0, 10).map((l) => `  ${l}`)
    throw new TrainerError(
      'BAD_DATA',
      `${skipped.length} file(s) in ${where} cannot be used:\n${shown.join('\n')}${list.length > 10 ? `\n  … and ${list.length - 10} more` : ''}\nfix or remove them, or pass --skip-bad to train on the other ${data.train.count + data.validation.count} images`,
      { problems: [`${skipped.length} file(s) in ${where} cannot be used; fix or remove them, or pass --skip-bad`, ...list] },
    )
  }
  await ensureFolder(runDir)
  await writeFileAtomic(join(runDir, 'skipped.json'), JSON.stringify(skipped, null, 2) + '\n')
  reporter.skipped(skipped)
  reporter.warn(
    `--skip-bad: skipped ${skipped.length} unusable file(s) (all listed in ${join(runDir, 'skipped.json')}); first: ${skipped
      .slice(0, 3)
      .map((p) => p.file ?? p.id)
      .join(', ')}`,
  )
}

function progressCallback(reporter: TrainReporter, config: TrainConfig, monitor: MonitorName): Callback {
  let bestValue: number | null = null
  return {
    name: 'progress',
    onStepEnd(info, control) {
      reporter.step({ epoch: info.epoch, step: info.step, steps: info.stepsPerEpoch, loss: info.epochLoss, imagesPerSecond: info.imagesPerSecond, lr: control.learningRate })
    },
    onEpochEnd(logs) {
      const value = logs[resolveMonitor(monitor).field]
      const improved = Number.isFinite(value) && (bestValue === null || (resolveMonitor(monitor).mode === 'max' ? value > bestValue : value < bestValue))
      if (improved) bestValue = value
      reporter.epochEnd(logs, { improved, epochs: config.epochs, monitor })
    },
    getState: () => bestValue,
    setState(s) {
      bestValue = s as number | null
    },
  }
}

/** The validation images the learning strip follows: a few spread over coverage classes, fixed for the run. */
export function stripIndices(data: RunData): number[] {
  return pickShowcase(data.validation.coverageClasses, STRIP_IMAGES)
}

function baselineOf(data: RunData): number {
  // an empty prediction scores 1 (TGS score and Dice alike) on an empty mask, 0 on any other
  const classes = data.validation.coverageClasses
  return classes.length === 0 ? 0 : classes.filter((c) => c === 0).length / classes.length
}

function mergeResumeConfig(saved: TrainConfig, given: TrainConfig, explicitKeys: readonly string[]): TrainConfig {
  const explicit = new Set(explicitKeys)
  // keys added since the run was saved take their defaults, which are the behaviour it was trained with
  const merged: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...saved }
  for (const key of explicit) {
    const k = key as keyof TrainConfig
    if (JSON.stringify(given[k]) === JSON.stringify(saved[k])) continue
    if (!RESUMABLE_KEYS.includes(k)) {
      throw new TrainerError('RESUME_MISMATCH', `--resume continues the run with its saved config; ${k} was ${JSON.stringify(saved[k])} and cannot change to ${JSON.stringify(given[k])} (only ${RESUMABLE_KEYS.join(', ')} can); drop that flag or start a new run`)
    }
    ;(merged as unknown as Record<string, unknown>)[k] = given[k]
  }
  merged.out = given.out
  return merged
}

/**
 * The end-of-training table: one row per epoch, then the best value of the monitor beside the empty-mask
 * baseline, wall time and speed.
 *
 * @param s - the summary
 * @returns the table as text
 * @example
 * ```ts
 * console.log(summaryTable(summary))
 * ```
 */
export function summaryTable(s: TrainSummary): string {
  const rows = s.history.map((h) => [
    String(h.epoch + 1),
    h.loss.toFixed(4),
    h.valLoss.toFixed(4),
    h.valIou.toFixed(4),
    h.valDice.toFixed(4),
    h.valTgsAtHalf.toFixed(4),
    h.valTgs.toFixed(4),
    h.threshold.toFixed(2),
    h.lr.toPrecision(2),
    h.imagesPerSecond.toFixed(1),
    h.seconds.toFixed(1),
    s.best && s.best.epoch === h.epoch ? '*' : '',
  ])
  const table = formatTable(['epoch', 'loss', 'val_loss', 'val_iou', 'val_dice', 'tgs@0.5', 'val_tgs', 'thr', 'lr', 'img/s', 'sec', 'best'], rows)
  const label = s.monitor === 'val_tgs' ? 'validation TGS score' : `${s.monitor}`
  const lines = [
    '',
    table,
    '',
    `stopped: ${describeStop(s.stopReason)}`,
    s.best
      ? `best ${label} ${s.best.value.toFixed(4)} at epoch ${s.best.epoch + 1}, threshold ${s.best.threshold.toFixed(2)} (empty-mask baseline ${s.emptyBaseline.toFixed(4)})`
      : `no finished epoch yet (empty-mask baseline ${s.emptyBaseline.toFixed(4)})`,
    `${s.seconds.toFixed(1)} s this session, ${s.imagesPerSecond.toFixed(1)} train images/s on ${s.backend}`,
    `run: ${s.runDir}${s.report ?? existsSync(join(s.runDir, 'report', 'index.html')) ? `   report: ${join(s.runDir, 'report', 'index.html')}` : ''}`,
  ]
  return lines.join('\n')
}
