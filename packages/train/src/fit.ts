import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { recalibrateBatchNorm } from './batch-norm'
import type { BestEpoch, Callback, CheckpointInfo, EpochLogs, StepInfo, TrainingControl } from './callbacks'
import { findCheckpoint, loadCheckpoint, loadWeightsInto, saveCheckpoint, type CheckpointStep, type TrainingState } from './checkpoint'
import { stepsPerEpoch, type FitData } from './data'
import { seedDropout } from './dropout'
import { TrainError } from './errors'
import { MONITORS, resolveMonitor, type MonitorName } from './monitors'
import {
  applyWeightDecay,
  createOptimizer,
  disposeOptimizer,
  getLearningRate,
  restoreOptimizerState,
  saveOptimizerState,
  setLearningRate,
  type OptimizerSpec,
} from './optimizers'
import { assertSchedule, learningRateAt, type LrSchedule } from './schedules'
import { isFinished, type StopReason } from './stop'
import { validate, type ValidationResult } from './validate'

/** A loss of {@link fit}: `(yTrue, yPred) => loss` on the model's (main) output. */
export type FitLoss = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor

/** One phase of a {@link FitOptions.lossSchedule}: from epoch `fromEpoch` (0-based) on, train with `loss`. */
export interface LossPhase {
  /** First epoch (0-based) of this loss. */
  readonly fromEpoch: number
  /** The loss from then on. */
  readonly loss: FitLoss
  /** Its name, for logs (e.g. `'lovasz_hinge'`). */
  readonly name?: string
}

/**
 * The training loss of a model with several outputs (deep supervision), built from the segmentation loss in force:
 * called with the true masks and the model's outputs by name (`output`, `has_mask`, `dec2_aux`, …).
 */
export type OutputsLoss = (segmentation: FitLoss) => (masks: tf.Tensor, outputs: Record<string, tf.Tensor>) => tf.Scalar

/** Options of {@link fit}. */
export interface FitOptions {
  /** Epochs to train for (in all; a resumed run counts the epochs done before). */
  readonly epochs: number
  /** Images per step. */
  readonly batchSize: number
  /** The optimizer. */
  readonly optimizer: OptimizerSpec
  /**
   * The loss, `(yTrue, yPred) => loss` (@unet/losses' `getLoss(name)`); with a `lossSchedule`, the loss of the epochs
   * before its first phase (not needed when the schedule starts at epoch 0).
   */
  readonly loss?: FitLoss
  /**
   * Losses that take over at given epochs, e.g. `[{ fromEpoch: 0, loss: bceDice }, { fromEpoch: 6, loss: lovasz }]`
   * (the TGS winners' BCE+Dice, then Lovasz hinge). The loss of an epoch is a function of the epoch alone, so a run
   * resumed on either side of a switch continues exactly. Validation loss is the loss in force.
   */
  readonly lossSchedule?: readonly LossPhase[]
  /**
   * For a model with several outputs (`@unet/layers`' `deepSupervision`): the training loss over all outputs, built
   * from the segmentation loss in force, e.g. `(segmentation) => deepSupervisionLoss({ segmentation })` from
   * @unet/losses. Each step then runs `optimizer.minimize` over `model.apply(x, { training: true })`. Validation and
   * the monitor read the main mask output (`output`). Required when the model has several outputs.
   */
  readonly outputsLoss?: OutputsLoss
  /** The model outputs logits (predictions get a sigmoid). Default false. */
  readonly logits?: boolean
  /** What the best checkpoint, early stopping and LR reduction follow; also picks the threshold metric. Default `val_dice`. */
  readonly monitor?: MonitorName
  /** Learning-rate schedule. Default `none`. (`plateau` needs a {@link reduceLrOnPlateau} callback; fit adds none itself.) */
  readonly schedule?: LrSchedule
  /** Callbacks, called in order. */
  readonly callbacks?: readonly Callback[]
  /**
   * Checkpoint folder: `last` (resume point, after every epoch and when stopped), `best` (by the monitor) and
   * snapshots are saved there. Without it nothing is written and a run cannot be resumed.
   */
  readonly checkpoints?: string
  /** Continue from the `last` checkpoint in `checkpoints` (weights, optimizer, step, callbacks), exactly. */
  readonly resume?: boolean
  /** Aborting it stops after the current step; the mid-epoch state is saved (with `checkpoints`) and fit returns. */
  readonly signal?: AbortSignal
  /** Seed of the dropout masks (with the step and layer). Default 0. */
  readonly seed?: number
  /** Thresholds swept on validation. Default 0.05 … 0.95. */
  readonly thresholds?: readonly number[]
  /** Average the batch-norm statistics afresh over the train set before each validation. Default true (when the data offers plain batches). */
  readonly recalibrateBatchNorm?: boolean
  /** Called with warnings (a failed log write); default: ignored. */
  readonly onWarning?: (text: string) => void
  /** Called before the first step of each epoch. */
  readonly onEpochStart?: (info: { epoch: number; startStep: number; stepsPerEpoch: number }) => void
  /** Called after each checkpoint is committed, before the previous version is removed. */
  readonly onCheckpoint?: (info: CheckpointInfo) => void | Promise<void>
  /** Only for tests: the loss seen at a step is replaced by this. */
  readonly lossOverride?: (globalStep: number, loss: number) => number
  /** Only for tests: called before each disk-changing step of a checkpoint save (throw to simulate a crash there). */
  readonly checkpointStep?: (step: CheckpointStep, path: string) => void
}

/** What {@link fit} returns. */
export interface FitResult {
  /** Why training stopped. */
  readonly stopReason: StopReason
  /** Whether the run is over (false when interrupted or at the time limit: resume continues it). */
  readonly finished: boolean
  /** Optimizer steps so far (all sessions). */
  readonly steps: number
  /** Epoch and step the run resumed from, or null for a fresh start. */
  readonly resumedFrom: { readonly epoch: number; readonly step: number } | null
  /** Best epoch by the monitor. */
  readonly best: BestEpoch | null
  /** Per-epoch logs (all sessions). */
  readonly history: EpochLogs[]
  /** The last validation (this session), if any. */
  readonly lastValidation: ValidationResult | null
  /** Training seconds this session. */
  readonly seconds: number
  /** Training images per second this session. */
  readonly imagesPerSecond: number
}

const yieldToEventLoop = (): Promise<void> => new Promise((done) => setImmediate(done))

/**
 * Trains a model: a custom loop over batches (`trainOnBatch`) under the loop's control, so that callbacks, an
 * abort signal (checked after every step, with a yield to the event loop so signals are seen) and mid-epoch
 * resume work. Resuming at any step gives the weights, optimizer state and history an uninterrupted run gives, bit
 * for bit: batches are rebuilt from (epoch, step), dropout masks are seeded by step, and the optimizer's state is
 * restored exactly (Adam's running β powers included).
 *
 * @param model - an uncompiled model (fit compiles it with the optimizer and loss)
 * @param data - train and validation sets
 * @param options - epochs, batch size, optimizer, loss, monitor, schedule, callbacks, checkpoints, resume, signal
 * @returns why it stopped, the history and the best epoch
 * @throws {@link TrainError} `BAD_OPTION`, `NO_CHECKPOINT`, `CHECKPOINT_WRITE`, `DATA`
 * @example
 * ```ts
 * const result = await fit(model, { train, validation }, {
 *   epochs: 10, batchSize: 16, optimizer: { name: 'adam', learningRate: 1e-3 }, loss: getLoss('bce_dice'),
 *   monitor: 'val_dice', callbacks: [bestCheckpoint({ monitor: 'val_dice' }), earlyStopping({ monitor: 'val_dice', patience: 5 })],
 *   checkpoints: 'runs/a/checkpoints',
 * })
 * ```
 */
export async function fit(model: LayersModel, data: FitData, options: FitOptions): Promise<FitResult> {
  const monitor = resolveMonitor(options.monitor ?? 'val_dice')
  const schedule: LrSchedule = options.schedule ?? { name: 'none' }
  assertSchedule(schedule)
  if (!(Number.isInteger(options.epochs) && options.epochs >= 1)) throw new TrainError('BAD_OPTION', `epochs must be an integer ≥ 1, got ${options.epochs}`)
  if (!(Number.isInteger(options.batchSize) && options.batchSize >= 1)) throw new TrainError('BAD_OPTION', `batchSize must be an integer ≥ 1, got ${options.batchSize}`)
  if (data.train.count < 1) throw new TrainError('DATA', 'the training set is empty; give fit at least one image')
  const callbacks = options.callbacks ?? []
  const names = new Set<string>()
  for (const cb of callbacks) {
    if (names.has(cb.name)) throw new TrainError('BAD_OPTION', `two callbacks are named ${JSON.stringify(cb.name)}; give each a unique name (their state is stored under it)`)
    names.add(cb.name)
  }
  const lossAt = resolveLossSchedule(options)
  const multiOutput = model.outputs.length > 1
  if (multiOutput && !options.outputsLoss) {
    throw new TrainError('BAD_OPTION', `the model has ${model.outputs.length} outputs (${model.outputNames.join(', ')}); give fit an outputsLoss (e.g. (segmentation) => deepSupervisionLoss({ segmentation }) from @unet/losses)`)
  }
  const dir = options.checkpoints
  if (options.resume && !dir) throw new TrainError('BAD_OPTION', 'resume needs the checkpoints folder to resume from')

  let state: TrainingState | null = null
  let optimizerState = null
  if (options.resume && dir) {
    if (!findCheckpoint(dir, 'last')) throw new TrainError('NO_CHECKPOINT', `nothing to resume in ${dir} (no last checkpoint); start without resume`)
    const ckpt = await loadCheckpoint(dir, 'last')
    ckpt.model.dispose()
    state = ckpt.state
    optimizerState = ckpt.optimizer
    if (!state) throw new TrainError('NO_CHECKPOINT', `${ckpt.folder} holds no state.json; it cannot be resumed`)
    if (state.finished && !(state.stopReason?.kind === 'completed' && options.epochs > state.epoch)) {
      throw new TrainError('BAD_OPTION', `the run in ${dir} has finished (${state.stopReason?.kind ?? 'unknown'}); ${state.stopReason?.kind === 'completed' ? `raise epochs above ${state.epoch} to train further` : 'start a new run to train again'}`)
    }
    await loadWeightsInto(model, ckpt.folder)
  }

  const baseLr = options.optimizer.learningRate
  const optimizer = createOptimizer({ ...options.optimizer, learningRate: state?.lr ?? baseLr })
  // one compiled loss that reads the loss in force: switching phases needs no recompile (which would reset nothing, but is slow)
  let activeLoss: FitLoss = lossAt(state?.epoch ?? 0)
  const compiled: FitLoss = options.lossSchedule ? (yTrue, yPred) => activeLoss(yTrue, yPred) : activeLoss
  model.compile({ optimizer, loss: compiled as never })
  const outputsLosses = new Map<FitLoss, (masks: tf.Tensor, outputs: Record<string, tf.Tensor>) => tf.Scalar>()
  const trainStep = async (xs: tf.Tensor4D, ys: tf.Tensor4D): Promise<number> => {
    if (!multiOutput) return (await model.trainOnBatch(xs, ys)) as number
    let total = outputsLosses.get(activeLoss)
    if (!total) outputsLosses.set(activeLoss, (total = (options.outputsLoss as OutputsLoss)(activeLoss)))
    const lossOf = total
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable)
    const cost = optimizer.minimize(() => {
      const outputs = model.apply(xs, { training: true }) as tf.Tensor[]
      return lossOf(ys, Object.fromEntries(model.outputNames.map((name, i) => [name, outputs[i] as tf.Tensor])))
    }, true, variables)
    const value = (await (cost as tf.Scalar).data())[0] as number
    cost?.dispose()
    return value
  }
  if (optimizerState) await restoreOptimizerState(optimizer, optimizerState)
  if (state) for (const cb of callbacks) if (cb.setState && state.callbacks[cb.name] !== undefined) cb.setState(state.callbacks[cb.name])

  const history: EpochLogs[] = state ? [...state.history] : []
  let epoch = state?.epoch ?? 0
  let step = state?.step ?? 0
  let globalStep = state?.globalStep ?? 0
  let partial = state?.partialEpoch ?? { lossSum: 0, images: 0, seconds: 0 }
  let best: BestEpoch | null = state?.best ?? null
  const elapsedBefore = state?.elapsedSeconds ?? 0
  const resumedFrom = state ? { epoch, step } : null
  const sessionStart = performance.now()
  let sessionImages = 0
  let sessionSeconds = 0
  let stopReason: StopReason | null = null
  let broken = false
  let lastValidation: ValidationResult | null = null
  const seed = options.seed ?? 0
  const steps = stepsPerEpoch(data.train.count, options.batchSize)
  const [h, w, c] = data.train.inputShape

  const snapshot = (finished: boolean): TrainingState => ({
    format: 'unet-training-state',
    version: 2,
    epoch,
    step,
    globalStep,
    partialEpoch: partial,
    lr: getLearningRate(optimizer),
    elapsedSeconds: control.elapsedSeconds,
    history,
    callbacks: Object.fromEntries(callbacks.filter((cb) => cb.getState).map((cb) => [cb.name, cb.getState?.()])),
    best,
    stopReason,
    finished,
  })

  const notifyCheckpoint = async (info: CheckpointInfo): Promise<void> => {
    await options.onCheckpoint?.(info)
    for (const cb of callbacks) await cb.onCheckpoint?.(info, control)
  }
  const save = async (slot: string, withOptimizer: boolean, finished: boolean): Promise<void> => {
    if (!dir) return
    const at = { epoch, step, globalStep }
    await saveCheckpoint(
      dir,
      slot,
      { model, optimizer: withOptimizer ? await saveOptimizerState(optimizer) : null, state: snapshot(finished) },
      { committed: (folder) => notifyCheckpoint({ which: slot, folder, ...at }), ...(options.checkpointStep ? { beforeStep: options.checkpointStep } : {}) },
    )
  }

  const control: TrainingControl = {
    stop(reason) {
      stopReason ??= reason
    },
    get learningRate() {
      return getLearningRate(optimizer)
    },
    set learningRate(v: number) {
      setLearningRate(optimizer, v)
    },
    get elapsedSeconds() {
      return elapsedBefore + (performance.now() - sessionStart) / 1000
    },
    monitor: monitor.name,
    model,
    history,
    async saveBest(logs) {
      const field = MONITORS[monitor.name].field
      best = { monitor: monitor.name, value: logs[field], epoch: logs.epoch, threshold: logs.threshold }
      await save('best', false, false)
    },
    async saveSnapshot(name) {
      await save(name, false, false)
    },
    warn(text) {
      options.onWarning?.(text)
    },
  }

  const aborted = (): boolean => options.signal?.aborted === true
  try {
    outer: while (epoch < options.epochs && !aborted()) {
      activeLoss = lossAt(epoch)
      options.onEpochStart?.({ epoch, startStep: step, stepsPerEpoch: steps })
      const epochStart = performance.now()
      while (step < steps) {
        const t0 = performance.now()
        const scheduled = learningRateAt(schedule, baseLr, epoch, step, steps)
        if (scheduled !== null) setLearningRate(optimizer, scheduled)
        const batch = await data.train.batch(epoch, step, options.batchSize)
        const expected = Math.min(options.batchSize, data.train.count - step * options.batchSize)
        if (batch.count !== expected || batch.x.length !== batch.count * h * w * c || batch.y.length !== batch.count * h * w) {
          throw new TrainError('DATA', `batch ${step} of epoch ${epoch} holds ${batch.count} images (x ${batch.x.length}, y ${batch.y.length} values); expected ${expected} images of ${h}×${w}×${c}`)
        }
        seedDropout(model, seed, globalStep)
        const xs = tf.tensor4d(batch.x, [batch.count, h, w, c])
        const ys = tf.tensor4d(batch.y, [batch.count, h, w, 1])
        let loss: number
        try {
          loss = await trainStep(xs, ys)
        } finally {
          xs.dispose()
          ys.dispose()
        }
        if (options.lossOverride) loss = options.lossOverride(globalStep, loss)
        const ran = getLearningRate(optimizer)
        if ((options.optimizer.weightDecay ?? 0) > 0) applyWeightDecay(model, ran, options.optimizer.weightDecay as number)
        const dt = (performance.now() - t0) / 1000
        sessionSeconds += dt
        sessionImages += batch.count
        partial = { lossSum: partial.lossSum + loss * batch.count, images: partial.images + batch.count, seconds: partial.seconds + dt }
        step += 1
        globalStep += 1
        const info: StepInfo = {
          epoch,
          step: step - 1,
          stepsPerEpoch: steps,
          globalStep,
          loss,
          epochLoss: partial.lossSum / partial.images,
          imagesPerSecond: partial.seconds > 0 ? partial.images / partial.seconds : 0,
        }
        for (const cb of callbacks) await cb.onStepEnd?.(info, control)
        if (!Number.isFinite(loss)) {
          // the weights are broken: nothing more is saved, whatever the callbacks said
          broken = true
          const said = stopReason as StopReason | null
          stopReason = said?.kind === 'nan_loss' ? said : { kind: 'nan_loss', loss, globalStep: globalStep - 1 }
          break outer
        }
        if (stopReason !== null) break
        // let signal handlers and I/O run: an abort is seen within one step
        await yieldToEventLoop()
        if (aborted()) break
      }
      if (step < steps) break // cut mid-epoch: the state saved below replays the rest of this epoch on resume

      if (options.recalibrateBatchNorm !== false && data.train.plainBatches) {
        // the moving batch-norm statistics lag the weights in a short, fast run: average them afresh
        await recalibrateBatchNorm(model, data.train.plainBatches(epoch, options.batchSize), data.train.inputShape)
      }
      const v = await validate(model, data.validation, {
        batchSize: options.batchSize,
        logits: options.logits ?? false,
        loss: activeLoss,
        thresholdMetric: monitor.thresholdMetric,
        ...(options.thresholds ? { thresholds: options.thresholds } : {}),
      })
      lastValidation = v
      const logs: EpochLogs = {
        epoch,
        loss: partial.images > 0 ? partial.lossSum / partial.images : NaN,
        valLoss: v.loss,
        valTgs: v.chosen.tgs,
        valTgsAtHalf: v.atHalf.tgs,
        valIou: v.chosen.iou,
        valDice: v.chosen.dice,
        valPixelAccuracy: v.chosen.pixelAccuracy,
        valBackgroundIou: v.chosen.backgroundIou,
        threshold: v.chosen.threshold,
        lr: getLearningRate(optimizer),
        seconds: (performance.now() - epochStart) / 1000,
        imagesPerSecond: partial.seconds > 0 ? partial.images / partial.seconds : 0,
      }
      history.push(logs)
      epoch += 1
      step = 0
      partial = { lossSum: 0, images: 0, seconds: 0 }
      for (const cb of callbacks) await cb.onEpochEnd?.(logs, control)
      if (stopReason !== null) break
      if (epoch < options.epochs) await save('last', true, false)
      await yieldToEventLoop()
    }

    if (stopReason === null) stopReason = epoch >= options.epochs ? { kind: 'completed' } : { kind: 'interrupted' }
    const finished = isFinished(stopReason)
    if (!broken) await save('last', true, finished)
    return {
      stopReason,
      finished,
      steps: globalStep,
      resumedFrom,
      best,
      history,
      lastValidation,
      seconds: sessionSeconds,
      imagesPerSecond: sessionSeconds > 0 ? sessionImages / sessionSeconds : 0,
    }
  } finally {
    disposeOptimizer(optimizer)
  }
}

/**
 * The loss of each epoch from `loss` and `lossSchedule`, checked: phases in increasing `fromEpoch` order, integers ≥ 0,
 * and `loss` given when the schedule does not start at epoch 0.
 */
function resolveLossSchedule(options: Pick<FitOptions, 'loss' | 'lossSchedule'>): (epoch: number) => FitLoss {
  const phases = options.lossSchedule ?? []
  if (phases.length === 0) {
    if (typeof options.loss !== 'function') throw new TrainError('BAD_OPTION', 'fit needs a loss (or a lossSchedule)')
    const only = options.loss
    return () => only
  }
  phases.forEach((phase, i) => {
    if (!(Number.isInteger(phase.fromEpoch) && phase.fromEpoch >= 0)) throw new TrainError('BAD_OPTION', `lossSchedule[${i}].fromEpoch must be an integer ≥ 0, got ${phase.fromEpoch}`)
    if (typeof phase.loss !== 'function') throw new TrainError('BAD_OPTION', `lossSchedule[${i}].loss must be a loss function (yTrue, yPred) => tensor`)
    const before = phases[i - 1]
    if (before && phase.fromEpoch <= before.fromEpoch) throw new TrainError('BAD_OPTION', `lossSchedule epochs must increase: phase ${i} starts at ${phase.fromEpoch}, not after ${before.fromEpoch}`)
  })
  const first = phases[0] as LossPhase
  if (first.fromEpoch > 0 && typeof options.loss !== 'function') {
    throw new TrainError('BAD_OPTION', `lossSchedule starts at epoch ${first.fromEpoch}; give loss for the epochs before it, or start the schedule at 0`)
  }
  return (epoch) => {
    let current: FitLoss | undefined = options.loss
    for (const phase of phases) if (phase.fromEpoch <= epoch) current = phase.loss
    return current as FitLoss
  }
}
