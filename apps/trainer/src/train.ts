import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { writeFileAtomic } from '@unet/files'
import {
  bestCheckpoint,
  earlyStopping,
  reduceLrOnPlateau,
  stopOnNaN,
  timeLimit,
  type Callback,
  type EpochLogs,
  type TrainingControl,
} from './callbacks'
import { findCheckpoint, loadCheckpoint, saveCheckpoint, type NamedTensor, type TrainingState } from './checkpoint'
import { RESUMABLE_KEYS, validateTrainConfig, type TrainConfig } from './config'
import { buildBatch, epochOrder, loadRunData, stepsPerEpoch, type RunData } from './data'
import { TrainerError } from './errors'
import { validate } from './validation'
import { recalibrateBatchNorm } from './batch-norm'
import { buildModel, modelChannels, resolveLoss } from './model'
import { formatTable, silentReporter, type TrainReporter } from './progress'
import { writeReport } from './report'
import { startBackend } from './backend'
import type { SetScores } from './scoring'

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
  /** Why training stopped: `completed`, `interrupted`, or a callback's reason. */
  stopReason: string
  /** Whether the run is over (false when interrupted or stopped by the time limit: `--resume` continues it). */
  finished: boolean
  /** Epochs finished so far. */
  epochs: number
  /** Optimizer steps so far. */
  steps: number
  /** Best validation TGS score, its epoch (0-based) and threshold. */
  best: { score: number; epoch: number; threshold: number } | null
  /** TGS score of predicting empty masks on the validation set. */
  emptyBaseline: number
  /** Training seconds in this session (excluding the report). */
  seconds: number
  /** Training images per second in this session. */
  imagesPerSecond: number
  /** Per-epoch logs. */
  history: EpochLogs[]
  /** Backend trained on. */
  backend: string
}

/**
 * Trains a U-Net: the whole `unet train` command as a function. A custom loop
 * over batches (`trainOnBatch`) so that callbacks, Ctrl-C (an abort signal) and
 * mid-epoch resume are under the loop's control. Writes to `config.out`:
 * `config.json`, `last/` and `best/` checkpoints, `history.json`/`.csv`,
 * `log.jsonl` (by the CLI reporter) and `report/`.
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
  const lastDir = join(runDir, 'last')
  const bestDir = join(runDir, 'best')
  let state: TrainingState | null = null
  let model: LayersModel
  let optimizerWeights: NamedTensor[] | null = null

  if (options.resume) {
    if (!findCheckpoint(lastDir)) {
      throw new TrainerError('NO_CHECKPOINT', `--resume: ${runDir} holds no checkpoint (no last/state.json); start a new run without --resume`)
    }
    const saved = JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8')) as TrainConfig
    config = mergeResumeConfig(saved, config, options.explicitKeys ?? [])
  } else if (findCheckpoint(lastDir)) {
    throw new TrainerError('BAD_FLAG', `${runDir} already holds a run; pass --resume to continue it, or choose another --out`)
  }
  validateTrainConfig(config)

  const backend = await startBackend(config)
  const lossFn = resolveLoss(config.loss)
  const channels = modelChannels(config)
  const data = await loadRunData(config, channels)

  if (options.resume) {
    const ckpt = await loadCheckpoint(lastDir)
    model = ckpt.model
    state = ckpt.state
    optimizerWeights = ckpt.optimizerWeights
    if (state.finished) {
      if (config.epochs > state.epoch && (state.stopReason === 'completed' || state.stopReason === null)) {
        state.finished = false
      } else {
        tf.dispose(optimizerWeights?.map((w) => w.tensor) ?? [])
        model.dispose()
        const what = state.stopReason === 'completed' ? `raise --epochs above ${state.epoch} to train further` : 'start a new run (other --out) to train again'
        throw new TrainerError('BAD_FLAG', `the run in ${runDir} has finished (${state.stopReason}); ${what}`)
      }
    }
  } else {
    model = await buildModel(config)
  }
  await mkdir(runDir, { recursive: true })
  await writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n')

  const optimizer = tf.train.adam(state?.lr ?? config.lr)
  // Adam reads its (protected) learningRate on every step, so setting it is how the rate is changed mid-run
  const lrOf = optimizer as unknown as { learningRate: number }
  model.compile({ optimizer, loss: lossFn as never })
  if (optimizerWeights) {
    await optimizer.setWeights(optimizerWeights)
    tf.dispose(optimizerWeights.map((w) => w.tensor))
  }

  const best = bestCheckpoint()
  const callbacks: Callback[] = [stopOnNaN(), best]
  if (config.patience > 0) callbacks.push(earlyStopping(config.patience))
  if (config.lrPatience > 0) callbacks.push(reduceLrOnPlateau({ patience: config.lrPatience, factor: config.lrFactor, minLr: config.minLr }))
  if (config.timeLimit > 0) callbacks.push(timeLimit(config.timeLimit))
  if (state) for (const cb of callbacks) if (cb.setState && state.callbacks[cb.name] !== undefined) cb.setState(state.callbacks[cb.name])

  const history: EpochLogs[] = state?.history ?? []
  let epoch = state?.epoch ?? 0
  let step = state?.step ?? 0
  let globalStep = state?.globalStep ?? 0
  let partial = state?.partialEpoch ?? { lossSum: 0, images: 0, seconds: 0 }
  const elapsedBefore = state?.elapsedSeconds ?? 0
  const sessionStart = performance.now()
  let sessionImages = 0
  let sessionTrainSeconds = 0
  let stopReason: string | null = null
  let broken = false

  const control: TrainingControl = {
    stop(reason) {
      stopReason ??= reason
    },
    get learningRate() {
      return lrOf.learningRate
    },
    set learningRate(v: number) {
      lrOf.learningRate = v
    },
    get elapsedSeconds() {
      return elapsedBefore + (performance.now() - sessionStart) / 1000
    },
    async saveBest() {
      await saveCheckpoint(bestDir, model, null, snapshot(false))
      reporter.checkpoint({ which: 'best', dir: bestDir, epoch, step, globalStep })
    },
  }

  const snapshot = (finished: boolean): TrainingState => ({
    version: 1,
    epoch,
    step,
    globalStep,
    partialEpoch: partial,
    lr: lrOf.learningRate,
    elapsedSeconds: control.elapsedSeconds,
    history,
    callbacks: Object.fromEntries(callbacks.filter((c) => c.getState).map((c) => [c.name, c.getState?.()])),
    best: best.best,
    stopReason,
    finished,
    config,
  })

  const steps = stepsPerEpoch(data.train.count, config.batchSize)
  reporter.start({
    runDir,
    backend,
    trainCount: data.train.count,
    validationCount: data.validation.count,
    epochs: config.epochs,
    stepsPerEpoch: steps,
    startEpoch: epoch,
    startStep: step,
    params: model.countParams(),
    source: data.source,
  })
  const { size, channels: ch } = data.train
  const interrupted = (): boolean => options.signal?.aborted === true

  let lastScores: SetScores | null = null
  outer: while (epoch < config.epochs && !interrupted()) {
    const order = epochOrder(data.train.count, config.seed, epoch)
    reporter.epochStart(epoch, config.epochs, steps, step)
    const epochStart = performance.now()
    while (step < steps) {
      const t0 = performance.now()
      const batch = buildBatch(data.train, order, { epoch, step }, config)
      const xs = tf.tensor4d(batch.xs, [batch.length, size, size, ch])
      const ys = tf.tensor4d(batch.ys, [batch.length, size, size, 1])
      let loss: number
      try {
        loss = (await model.trainOnBatch(xs, ys)) as number
      } finally {
        xs.dispose()
        ys.dispose()
      }
      if (options.lossOverride) loss = options.lossOverride(globalStep, loss)
      const dt = (performance.now() - t0) / 1000
      sessionTrainSeconds += dt
      sessionImages += batch.length
      partial = { lossSum: partial.lossSum + loss * batch.length, images: partial.images + batch.length, seconds: partial.seconds + dt }
      step += 1
      globalStep += 1
      for (const cb of callbacks) await cb.onBatchEnd?.(loss, control)
      if (!Number.isFinite(loss)) {
        broken = true
        break outer
      }
      reporter.step({ epoch, step: step - 1, steps, loss: partial.lossSum / partial.images, imagesPerSecond: partial.images / partial.seconds, lr: lrOf.learningRate })
      if (stopReason !== null || interrupted()) break
    }
    if (step < steps) {
      // cut mid-epoch (Ctrl-C or time limit): save where we are so --resume replays the rest of this epoch
      break
    }
    // the moving batch-norm statistics lag the weights in a short, fast run: average them afresh before validating
    recalibrateBatchNorm(model, data.train, order, config.batchSize)
    const scores = validate(model, data, config, lossFn)
    lastScores = scores.scores
    const epochSeconds = (performance.now() - epochStart) / 1000
    const logs: EpochLogs = {
      epoch,
      loss: partial.lossSum / partial.images,
      valLoss: scores.loss,
      valScore: scores.scores.best.score,
      valScoreAt05: scores.scores.atHalf.score,
      valIou: scores.scores.best.iou,
      valDice: scores.scores.best.dice,
      threshold: scores.scores.best.threshold,
      lr: lrOf.learningRate,
      seconds: epochSeconds,
      imagesPerSecond: partial.images / partial.seconds,
    }
    history.push(logs)
    epoch += 1
    step = 0
    partial = { lossSum: 0, images: 0, seconds: 0 }
    const before = best.best?.score ?? -Infinity
    for (const cb of callbacks) await cb.onEpochEnd?.(logs, control)
    reporter.epochEnd(logs, { improved: (best.best?.score ?? -Infinity) > before, epochs: config.epochs })
    if (stopReason !== null) break
    if (epoch < config.epochs) {
      await saveCheckpoint(lastDir, model, optimizer, snapshot(false))
      reporter.checkpoint({ which: 'last', dir: lastDir, epoch, step, globalStep })
    }
  }

  const completed = epoch >= config.epochs && !broken
  if (stopReason === null) stopReason = completed ? 'completed' : 'interrupted'
  const timeLimited = stopReason.startsWith('time limit')
  const finished = !broken && (completed || (stopReason !== 'interrupted' && !timeLimited))
  if (!broken) {
    await saveCheckpoint(lastDir, model, optimizer, snapshot(finished))
    reporter.checkpoint({ which: 'last', dir: lastDir, epoch, step, globalStep })
    reporter.note(`checkpoint saved: ${lastDir}${finished ? '' : ` (continue with: unet train --out ${config.out} --resume)`}`)
  } else {
    reporter.note(`stopped: ${stopReason}; ${best.best ? `best checkpoint (epoch ${best.best.epoch + 1}) kept in ${bestDir}` : 'no checkpoint was saved'}`)
  }

  await writeHistory(runDir, history)
  const emptyBaseline = lastScores?.emptyBaseline ?? baselineOf(data)
  const summary: TrainSummary = {
    runDir,
    stopReason,
    finished,
    epochs: history.length,
    steps: globalStep,
    best: best.best,
    emptyBaseline,
    seconds: (performance.now() - sessionStart) / 1000,
    imagesPerSecond: sessionTrainSeconds > 0 ? sessionImages / sessionTrainSeconds : 0,
    history,
    backend,
  }
  model.dispose()
  optimizer.dispose()

  if (options.report !== false && best.best && findCheckpoint(bestDir)) {
    try {
      await writeReport({ runDir, config, data, history, summary, resolveLoss: () => lossFn })
    } catch (cause) {
      // the checkpoints and history are safe on disk; a report that fails to render should not fail the run
      reporter.note(`could not write the report in ${join(runDir, 'report')}: ${(cause as Error).message}`)
    }
  }
  reporter.end(summary as unknown as Record<string, unknown>, summaryTable(summary))
  return summary
}

function baselineOf(data: RunData): number {
  const n = data.validation.originalMasks.length
  if (n === 0) return 0
  return data.validation.originalMasks.filter((m) => !m.some((v) => v !== 0)).length / n
}

function mergeResumeConfig(saved: TrainConfig, given: TrainConfig, explicitKeys: readonly string[]): TrainConfig {
  const explicit = new Set(explicitKeys)
  const merged: TrainConfig = { ...saved }
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

async function writeHistory(runDir: string, history: EpochLogs[]): Promise<void> {
  await writeFileAtomic(join(runDir, 'history.json'), JSON.stringify(history, null, 2) + '\n')
  const cols: (keyof EpochLogs)[] = ['epoch', 'loss', 'valLoss', 'valScore', 'valScoreAt05', 'valIou', 'valDice', 'threshold', 'lr', 'seconds', 'imagesPerSecond']
  const csv = [cols.join(','), ...history.map((h) => cols.map((c) => (c === 'epoch' ? String(h.epoch + 1) : String(h[c]))).join(','))].join('\n') + '\n'
  await writeFileAtomic(join(runDir, 'history.csv'), csv)
}

/**
 * The end-of-training table: one row per epoch, then the best score beside the
 * empty-mask baseline, wall time and speed.
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
    h.valScoreAt05.toFixed(4),
    h.valScore.toFixed(4),
    h.threshold.toFixed(2),
    h.lr.toPrecision(2),
    h.imagesPerSecond.toFixed(1),
    h.seconds.toFixed(1),
    s.best && s.best.epoch === h.epoch ? '*' : '',
  ])
  const table = formatTable(['epoch', 'loss', 'val_loss', 'val_iou', 'tgs@0.5', 'val_tgs', 'thr', 'lr', 'img/s', 'sec', 'best'], rows)
  const lines = [
    '',
    table,
    '',
    `stopped: ${s.stopReason}`,
    s.best
      ? `best validation TGS score ${s.best.score.toFixed(4)} at epoch ${s.best.epoch + 1}, threshold ${s.best.threshold.toFixed(2)} (empty-mask baseline ${s.emptyBaseline.toFixed(4)})`
      : `no finished epoch yet (empty-mask baseline ${s.emptyBaseline.toFixed(4)})`,
    `${s.seconds.toFixed(1)} s this session, ${s.imagesPerSecond.toFixed(1)} train images/s on ${s.backend}`,
    `run: ${s.runDir}${existsSync(join(s.runDir, 'report', 'index.html')) ? `   report: ${join(s.runDir, 'report', 'index.html')}` : ''}`,
  ]
  return lines.join('\n')
}
