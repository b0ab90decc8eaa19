import { describe, expect, it } from 'vitest'
import { bestCheckpoint, cycleSnapshots, earlyStopping, historyCsv, reduceLrOnPlateau, stopOnNaN, timeLimit, type EpochLogs, type StepInfo, type TrainingControl } from './callbacks'
import type { StopReason } from './stop'

function logs(epoch: number, value: number, valLoss = 1): EpochLogs {
  return {
    epoch, loss: 1, valLoss, valTgs: value, valTgsAtHalf: value, valIou: 0, valDice: value, valPixelAccuracy: 0.9, valBackgroundIou: 0.9,
    threshold: 0.5, lr: 0.01, seconds: 1, imagesPerSecond: 1,
  }
}

function control(elapsed = 0): TrainingControl & { reasons: StopReason[]; saved: number[]; snapshots: string[] } {
  const c = {
    reasons: [] as StopReason[],
    saved: [] as number[],
    snapshots: [] as string[],
    learningRate: 0.01,
    elapsedSeconds: elapsed,
    monitor: 'val_tgs' as const,
    history: [] as EpochLogs[],
    model: null as never,
    stop(reason: StopReason) {
      c.reasons.push(reason)
    },
    async saveBest(l: EpochLogs) {
      c.saved.push(l.epoch)
    },
    async saveSnapshot(name: string) {
      c.snapshots.push(name)
    },
    warn() {},
  }
  return c
}

const step = (loss: number): StepInfo => ({ epoch: 0, step: 0, stepsPerEpoch: 1, globalStep: 3, loss, epochLoss: loss, imagesPerSecond: 1 })

describe('earlyStopping', () => {
  it('stops after `patience` epochs without a better monitor value, and its state survives a resume', () => {
    const cb = earlyStopping({ monitor: 'val_tgs', patience: 2 })
    const c = control()
    cb.onEpochEnd?.(logs(0, 0.5), c)
    cb.onEpochEnd?.(logs(1, 0.5), c)
    expect(c.reasons).toEqual([])
    const resumed = earlyStopping({ monitor: 'val_tgs', patience: 2 })
    resumed.setState?.(JSON.parse(JSON.stringify(cb.getState?.())))
    resumed.onEpochEnd?.(logs(2, 0.49), c)
    expect(c.reasons).toEqual([{ kind: 'early_stopping', monitor: 'val_tgs', patience: 2 }])
  })

  it('follows the monitor’s mode: a falling val_loss is an improvement', () => {
    const cb = earlyStopping({ monitor: 'val_loss', patience: 1 })
    const c = control()
    for (const [e, loss] of [[0, 0.9], [1, 0.8], [2, 0.7]] as const) cb.onEpochEnd?.(logs(e, 0, loss), c)
    expect(c.reasons).toEqual([])
    cb.onEpochEnd?.(logs(3, 0, 0.75), c)
    expect(c.reasons).toHaveLength(1)
  })
})

describe('reduceLrOnPlateau', () => {
  it('cuts the rate on a plateau, not below minLr', () => {
    const cb = reduceLrOnPlateau({ monitor: 'val_dice', patience: 1, factor: 0.1, minLr: 0.0005 })
    const c = control()
    cb.onEpochEnd?.(logs(0, 0.5), c)
    expect(c.learningRate).toBe(0.01)
    cb.onEpochEnd?.(logs(1, 0.4), c)
    expect(c.learningRate).toBeCloseTo(0.001)
    cb.onEpochEnd?.(logs(2, 0.4), c)
    expect(c.learningRate).toBe(0.0005)
    cb.onEpochEnd?.(logs(3, 0.6), c)
    expect(c.learningRate).toBe(0.0005)
  })
})

describe('bestCheckpoint', () => {
  it('saves only on a better monitor value', async () => {
    const cb = bestCheckpoint({ monitor: 'val_tgs' })
    const c = control()
    for (const [e, s] of [[0, 0.3], [1, 0.5], [2, 0.4], [3, NaN], [4, 0.6]] as const) await cb.onEpochEnd?.(logs(e, s), c)
    expect(c.saved).toEqual([0, 1, 4])
    expect(cb.best).toEqual({ monitor: 'val_tgs', value: 0.6, epoch: 4, threshold: 0.5 })
  })

  it('keeps the lowest val_loss', async () => {
    const cb = bestCheckpoint({ monitor: 'val_loss' })
    const c = control()
    for (const [e, loss] of [[0, 0.5], [1, 0.6], [2, 0.4]] as const) await cb.onEpochEnd?.(logs(e, 0, loss), c)
    expect(c.saved).toEqual([0, 2])
  })
})

describe('stopOnNaN, timeLimit and cycleSnapshots', () => {
  it('stop on a non-finite loss and past the time budget, as values', () => {
    const c = control(10)
    stopOnNaN().onStepEnd?.(step(0.3), c)
    expect(c.reasons).toEqual([])
    stopOnNaN().onStepEnd?.(step(NaN), c)
    stopOnNaN().onStepEnd?.(step(Infinity), c)
    expect(c.reasons.map((r) => r.kind)).toEqual(['nan_loss', 'nan_loss'])
    timeLimit(20).onStepEnd?.(step(0.3), c)
    expect(c.reasons).toHaveLength(2)
    timeLimit(5).onStepEnd?.(step(0.3), c)
    expect(c.reasons[2]).toEqual({ kind: 'time_limit', seconds: 5 })
  })

  it('snapshots at the end of every cosine cycle (cycles of 2, then 4 epochs)', async () => {
    const cb = cycleSnapshots({ name: 'cosine', cycleEpochs: 2, cycleMult: 2, minLr: 0 })
    const c = control()
    for (let e = 0; e < 7; e++) await cb.onEpochEnd?.(logs(e, 0.5), c)
    expect(c.snapshots).toEqual(['snapshot-cycle-1', 'snapshot-cycle-2'])
  })

  it('writes the history as CSV with epochs from 1', () => {
    const csv = historyCsv([logs(0, 0.5), logs(1, 0.6)]).trim().split('\n')
    expect(csv).toHaveLength(3)
    expect(csv[0]).toMatch(/^epoch,loss,valLoss,valTgs/)
    expect(csv[2]).toMatch(/^2,1,1,0\.6,/)
  })
})
