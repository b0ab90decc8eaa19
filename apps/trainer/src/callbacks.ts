/** What one epoch produced; what callbacks look at. */
export interface EpochLogs {
  /** 0-based epoch index. */
  epoch: number
  /** Mean training loss over the epoch. */
  loss: number
  /** Mean validation loss. */
  valLoss: number
  /** Validation TGS score at the best threshold of the sweep. */
  valScore: number
  /** Validation TGS score at threshold 0.5. */
  valScoreAt05: number
  /** Mean validation IoU at the chosen threshold. */
  valIou: number
  /** Validation Dice at the chosen threshold. */
  valDice: number
  /** The threshold that gave `valScore`. */
  threshold: number
  /** Learning rate used during the epoch. */
  lr: number
  /** Seconds the epoch took (training + validation). */
  seconds: number
  /** Training images per second. */
  imagesPerSecond: number
}

/** What a callback may do to the run it watches. */
export interface TrainingControl {
  /** Ask the loop to stop after the current step; `reason` ends up in the summary. */
  stop(reason: string): void
  /** The optimizer's learning rate. */
  learningRate: number
  /** Seconds of training so far, summed over resumed sessions. */
  readonly elapsedSeconds: number
  /** Save the current weights as the best checkpoint. */
  saveBest(logs: EpochLogs): Promise<void>
}

/**
 * A training callback, in the spirit of Keras: hooks the loop calls, and a
 * JSON state saved in every checkpoint so a resumed run picks up the counters
 * (patience, best score) where they were.
 */
export interface Callback {
  /** Name under which its state is stored. */
  readonly name: string
  /** After each step, with that step's loss. */
  onBatchEnd?(loss: number, control: TrainingControl): void | Promise<void>
  /** After each epoch's validation. */
  onEpochEnd?(logs: EpochLogs, control: TrainingControl): void | Promise<void>
  /** JSON state to checkpoint. */
  getState?(): unknown
  /** Restore from {@link Callback.getState}'s output. */
  setState?(state: unknown): void
}

/**
 * Stops when the validation TGS score has not improved for `patience` epochs
 * (Keras' `EarlyStopping(monitor='val_score', mode='max')`).
 *
 * @param patience - epochs without improvement to tolerate
 * @param minDelta - smallest change that counts as an improvement
 * @returns the callback
 * @example
 * ```ts
 * const cb = earlyStopping(5)
 * ```
 */
export function earlyStopping(patience: number, minDelta = 1e-4): Callback {
  const plateau = plateauCounter(minDelta)
  return {
    name: 'earlyStopping',
    onEpochEnd(logs, control) {
      if (plateau.epochsWithoutImprovement(logs.valScore) >= patience) {
        control.stop(`early stopping: no better validation score for ${patience} epochs`)
      }
    },
    getState: plateau.getState,
    setState: plateau.setState,
  }
}

/**
 * Multiplies the learning rate by `factor` when the validation score has not
 * improved for `patience` epochs, never below `minLr` (Keras' `ReduceLROnPlateau`).
 *
 * @param options - patience, factor, minLr
 * @returns the callback
 * @example
 * ```ts
 * const cb = reduceLrOnPlateau({ patience: 2, factor: 0.5, minLr: 1e-5 })
 * ```
 */
export function reduceLrOnPlateau(options: { patience: number; factor: number; minLr: number; minDelta?: number }): Callback {
  const plateau = plateauCounter(options.minDelta ?? 1e-4)
  return {
    name: 'reduceLrOnPlateau',
    onEpochEnd(logs, control) {
      if (plateau.epochsWithoutImprovement(logs.valScore) >= options.patience) {
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
 * Counts epochs since the validation score last rose by more than `minDelta`: the bookkeeping that early
 * stopping and reduce-LR-on-plateau share, with its state in the form checkpoints store (`{ best, wait }`).
 */
function plateauCounter(minDelta: number) {
  let best = -Infinity
  let wait = 0
  return {
    /** Records this epoch's score; returns how many epochs in a row did not improve (0 when this one did). */
    epochsWithoutImprovement(score: number): number {
      if (score > best + minDelta) {
        best = score
        wait = 0
      } else {
        wait += 1
      }
      return wait
    },
    /** Starts counting again (after the learning rate was cut), keeping the best score. */
    restart(): void {
      wait = 0
    },
    getState: (): unknown => ({ best: Number.isFinite(best) ? best : null, wait }),
    setState(state: unknown): void {
      const st = state as { best: number | null; wait: number }
      best = st.best ?? -Infinity
      wait = st.wait
    },
  }
}

/**
 * Keeps the checkpoint with the best validation TGS score (not the lowest loss).
 *
 * @returns the callback; its state holds the best score, epoch and threshold
 * @example
 * ```ts
 * const cb = bestCheckpoint()
 * ```
 */
export function bestCheckpoint(): Callback & { readonly best: { score: number; epoch: number; threshold: number } | null } {
  let best: { score: number; epoch: number; threshold: number } | null = null
  return {
    name: 'bestCheckpoint',
    get best() {
      return best
    },
    async onEpochEnd(logs, control) {
      if (!Number.isFinite(logs.valScore)) return
      if (best === null || logs.valScore > best.score) {
        best = { score: logs.valScore, epoch: logs.epoch, threshold: logs.threshold }
        await control.saveBest(logs)
      }
    },
    getState: () => best,
    setState(s) {
      best = s as typeof best
    },
  }
}

/**
 * Stops at once when a step's loss is NaN or infinite. The loop then skips
 * every save of the current (broken) weights, so the best checkpoint stays as it was.
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
    onBatchEnd(loss, control) {
      if (!Number.isFinite(loss)) control.stop(`loss became ${loss}; the best checkpoint was kept as it was — lower --lr or change --loss`)
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
    onBatchEnd(_loss, control) {
      if (control.elapsedSeconds >= seconds) control.stop(`time limit of ${seconds} s reached`)
    },
  }
}
