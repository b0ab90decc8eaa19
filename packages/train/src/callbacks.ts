import type { LayersModel } from '@tensorflow/tfjs-layers'
import { appendFile } from 'node:fs/promises'
import { writeFileAtomic } from '@unet/files'
import { improves, MONITORS, type MonitorName } from './monitors'
import { cosineCycle, type LrSchedule } from './schedules'
import type { StopReason } from './stop'

/** What one epoch produced; what callbacks look at. `val*` fields are the monitors' values. */
export interface EpochLogs {
  /** 0-based epoch index. */
  epoch: number
  /** Mean training loss over the epoch. */
  loss: number
  /** Mean validation loss. */
  valLoss: number
  /** Validation TGS score at the chosen threshold. */
  valTgs: number
  /** Validation TGS score at threshold 0.5. */
  valTgsAtHalf: number
  /** Mean validation IoU at the chosen threshold. */
  valIou: number
  /** Mean validation Dice at the chosen threshold. */
  valDice: number
  /** Mean validation pixel accuracy at the chosen threshold. */
  valPixelAccuracy: number
  /** Mean validation IoU of the background class at the chosen threshold. */
  valBackgroundIou: number
  /** The threshold chosen on validation (by the monitor's threshold metric). */
  threshold: number
  /** Learning rate at the end of the epoch. */
  lr: number
  /** Seconds the epoch took (training + validation). */
  seconds: number
  /** Training images per second. */
  imagesPerSecond: number
}

/** The best epoch so far by the monitor. */
export interface BestEpoch {
  readonly monitor: MonitorName
  readonly value: number
  readonly epoch: number
  readonly threshold: number
}

/** After each step. */
export interface StepInfo {
  readonly epoch: number
  /** Step just taken, within the epoch (0-based). */
  readonly step: number
  readonly stepsPerEpoch: number
  /** Optimizer steps taken so far, this one included. */
  readonly globalStep: number
  /** This step's loss. */
  readonly loss: number
  /** Mean loss over the epoch so far. */
  readonly epochLoss: number
  /** Training images per second over the epoch so far. */
  readonly imagesPerSecond: number
}

/** A checkpoint `fit` wrote. */
export interface CheckpointInfo {
  /** `last` (resume point), `best` (by the monitor) or a snapshot's name. */
  readonly which: string
  /** The folder holding model.json (and, for `last`, the optimizer and training state). */
  readonly folder: string
  readonly epoch: number
  readonly step: number
  readonly globalStep: number
}

/** What a callback may do to the run it watches. */
export interface TrainingControl {
  /** Ask the loop to stop after the current step. The first reason given wins. */
  stop(reason: StopReason): void
  /** The optimizer's learning rate; setting it changes the rate from the next step. */
  learningRate: number
  /** Seconds of training so far, summed over resumed sessions. */
  readonly elapsedSeconds: number
  /** The monitored quantity. */
  readonly monitor: MonitorName
  /** The model being trained (to look at, e.g. predict a few images; changing its weights changes the run). */
  readonly model: LayersModel
  /** Every finished epoch's logs so far (resumed sessions included). */
  readonly history: readonly EpochLogs[]
  /** Save the current weights as the best checkpoint (a no-op without a checkpoint folder). */
  saveBest(logs: EpochLogs): Promise<void>
  /** Save the current weights as a named snapshot (a no-op without a checkpoint folder). */
  saveSnapshot(name: string, logs: EpochLogs): Promise<void>
  /** A warning for the user (the run goes on). */
  warn(text: string): void
}

/**
 * A training callback, in the spirit of Keras: hooks the loop calls, and a JSON state saved in every checkpoint
 * so a resumed run picks up the counters (patience, best score) where they were.
 *
 * @example
 * ```ts
 * const printer: Callback = { name: 'printer', onEpochEnd: (logs) => console.log(logs.epoch, logs.valDice) }
 * ```
 */
export interface Callback {
  /** Name under which its state is stored; unique among a run's callbacks. */
  readonly name: string
  /** After each step. */
  onStepEnd?(info: StepInfo, control: TrainingControl): void | Promise<void>
  /** After each epoch's validation. */
  onEpochEnd?(logs: EpochLogs, control: TrainingControl): void | Promise<void>
  /** After a checkpoint was written. */
  onCheckpoint?(info: CheckpointInfo, control: TrainingControl): void | Promise<void>
  /** JSON state to checkpoint. */
  getState?(): unknown
  /** Restore from {@link Callback.getState}'s output. */
  setState?(state: unknown): void
}

/**
 * Counts epochs since the monitor last improved by more than `minDelta`: the bookkeeping that early stopping and
 * reduce-LR-on-plateau share, with its state in the form checkpoints store (`{ best, wait }`).
 */
function plateauCounter(monitor: MonitorName, minDelta: number) {
  let best: number | null = null
  let wait = 0
  return {
    epochsWithoutImprovement(logs: EpochLogs): number {
      const value = logs[MONITORS[monitor].field]
      if (improves(monitor, value, best, minDelta)) {
        best = value
        wait = 0
      } else {
        wait += 1
      }
      return wait
    },
    restart(): void {
      wait = 0
    },
    getState: (): unknown => ({ best, wait }),
    setState(state: unknown): void {
      const st = state as { best: number | null; wait: number }
      best = st.best
      wait = st.wait
    },
  }
}

/**
 * Stops when the monitor has not improved for `patience` epochs (Keras' `EarlyStopping`; the mode comes from the
 * monitor's declaration).
 *
 * @param options - monitor, patience, minDelta (default 1e-4)
 * @returns the callback
 * @example
 * ```ts
 * const cb = earlyStopping({ monitor: 'val_dice', patience: 5 })
 * ```
 */
export function earlyStopping(options: { monitor: MonitorName; patience: number; minDelta?: number }): Callback {
  const plateau = plateauCounter(options.monitor, options.minDelta ?? 1e-4)
  return {
    name: 'earlyStopping',
    onEpochEnd(logs, control) {
      if (plateau.epochsWithoutImprovement(logs) >= options.patience) {
        control.stop({ kind: 'early_stopping', monitor: options.monitor, patience: options.patience })
      }
    },
    getState: plateau.getState,
    setState: plateau.setState,
  }
}

/**
 * Multiplies the learning rate by `factor` when the monitor has not improved for `patience` epochs, never below
 * `minLr` (Keras' `ReduceLROnPlateau`).
 *
 * @param options - monitor, patience, factor, minLr, minDelta (default 1e-4)
 * @returns the callback
 * @example
 * ```ts
 * const cb = reduceLrOnPlateau({ monitor: 'val_loss', patience: 2, factor: 0.5, minLr: 1e-5 })
 * ```
 */
export function reduceLrOnPlateau(options: { monitor: MonitorName; patience: number; factor: number; minLr: number; minDelta?: number }): Callback {
  const plateau = plateauCounter(options.monitor, options.minDelta ?? 1e-4)
  return {
    name: 'reduceLrOnPlateau',
    onEpochEnd(logs, control) {
      if (plateau.epochsWithoutImprovement(logs) >= options.patience) {
        const next = Math.max(options.minLr, control.learningRate * options.factor)
        if (next < control.learningRate) control.learningRate = next
        plateau.restart()
      }
    },
    getState: plateau.getState,
    setState: plateau.setState,
  }
}

/**
 * Keeps the checkpoint with the best value of the monitor (not the lowest loss, unless the monitor is `val_loss`).
 *
 * @param options - the monitor
 * @returns the callback; `best` holds the best value, its epoch and threshold
 * @example
 * ```ts
 * const cb = bestCheckpoint({ monitor: 'val_tgs' })
 * ```
 */
export function bestCheckpoint(options: { monitor: MonitorName }): Callback & { readonly best: BestEpoch | null } {
  let best: BestEpoch | null = null
  const field = MONITORS[options.monitor].field
  return {
    name: 'bestCheckpoint',
    get best() {
      return best
    },
    async onEpochEnd(logs, control) {
      if (improves(options.monitor, logs[field], best?.value ?? null)) {
        best = { monitor: options.monitor, value: logs[field], epoch: logs.epoch, threshold: logs.threshold }
        await control.saveBest(logs)
      }
    },
    getState: () => best,
    setState(s) {
      best = s as BestEpoch | null
    },
  }
}

/**
 * Stops at once when a step's loss is NaN or infinite. The loop then skips every save of the current (broken)
 * weights, so the best checkpoint stays as it was.
 *
 * @returns the callback
 * @example
 * ```ts
 * const cb = stopOnNaN()
 * ```
 */
export function stopOnNaN(): Callback {
  return {
    name: 'stopOnNaN',
    onStepEnd(info, control) {
      if (!Number.isFinite(info.loss)) control.stop({ kind: 'nan_loss', loss: info.loss, globalStep: info.globalStep - 1 })
    },
  }
}

/**
 * Stops (after saving) once training has used `seconds`, summed over resumed sessions.
 *
 * @param seconds - the budget
 * @returns the callback
 * @example
 * ```ts
 * const cb = timeLimit(600)
 * ```
 */
export function timeLimit(seconds: number): Callback {
  return {
    name: 'timeLimit',
    onStepEnd(_info, control) {
      if (control.elapsedSeconds >= seconds) control.stop({ kind: 'time_limit', seconds })
    },
  }
}

/**
 * Saves a snapshot checkpoint (`snapshot-cycle-N`) at the end of every cosine cycle: the snapshot ensemble of
 * warm restarts, as the TGS winners trained.
 *
 * @param schedule - the cosine schedule
 * @returns the callback
 * @example
 * ```ts
 * const cb = cycleSnapshots({ name: 'cosine', cycleEpochs: 10, cycleMult: 1, minLr: 1e-5 })
 * ```
 */
export function cycleSnapshots(schedule: Extract<LrSchedule, { name: 'cosine' }>): Callback {
  return {
    name: 'cycleSnapshots',
    async onEpochEnd(logs, control) {
      const { index, start, length } = cosineCycle(schedule, logs.epoch)
      if (logs.epoch + 1 === start + length) await control.saveSnapshot(`snapshot-cycle-${index + 1}`, logs)
    },
  }
}

/** The columns of {@link csvLogger}, in order. */
export const HISTORY_COLUMNS: readonly (keyof EpochLogs)[] = Object.freeze([
  'epoch', 'loss', 'valLoss', 'valTgs', 'valTgsAtHalf', 'valIou', 'valDice', 'valPixelAccuracy', 'valBackgroundIou', 'threshold', 'lr', 'seconds', 'imagesPerSecond',
] as (keyof EpochLogs)[])

/**
 * Writes the whole history as CSV (one row per epoch, epochs counted from 1) after every epoch, atomically, so the
 * file is always complete — resumed runs included (the history travels in the checkpoint). A failed write (a full
 * disk) is a warning, once.
 *
 * @param path - the CSV file
 * @returns the callback
 * @example
 * ```ts
 * const cb = csvLogger('runs/a/history.csv')
 * ```
 */
export function csvLogger(path: string): Callback {
  let warned = false
  return {
    name: 'csvLogger',
    async onEpochEnd(_logs, control) {
      try {
        await writeFileAtomic(path, historyCsv(control.history))
      } catch (error) {
        // a log is not worth a run: the history travels in every checkpoint too
        if (!warned) control.warn(`could not write ${path} (${(error as Error).message}); the history is kept in the checkpoints`)
        warned = true
      }
    },
  }
}

/**
 * The history as CSV text.
 *
 * @param history - per-epoch logs
 * @returns CSV with a header row
 * @example
 * ```ts
 * historyCsv(result.history)
 * ```
 */
export function historyCsv(history: readonly EpochLogs[]): string {
  const cols = HISTORY_COLUMNS
  return [cols.join(','), ...history.map((h) => cols.map((c) => (c === 'epoch' ? String(h.epoch + 1) : String(h[c]))).join(','))].join('\n') + '\n'
}

/**
 * Appends one JSON line per epoch (`{"event":"epoch_end",…}`) to a log file. A failed write (a full disk) is a
 * warning, once; training goes on.
 *
 * @param path - the .jsonl file
 * @returns the callback
 * @example
 * ```ts
 * const cb = jsonlLogger('runs/a/epochs.jsonl')
 * ```
 */
export function jsonlLogger(path: string): Callback {
  let failed = false
  return {
    name: 'jsonlLogger',
    async onEpochEnd(logs, control) {
      if (failed) return
      try {
        await appendFile(path, JSON.stringify({ time: new Date().toISOString(), event: 'epoch_end', ...logs }) + '\n')
      } catch (error) {
        failed = true
        control.warn(`could not append to ${path} (${(error as Error).message}); epoch logs go on in the checkpoints`)
      }
    },
  }
}
