import { describe, expect, it } from 'vitest'
import { bestCheckpoint, earlyStopping, reduceLrOnPlateau, stopOnNaN, timeLimit, type EpochLogs, type TrainingControl } from './callbacks'

function logs(epoch: number, valScore: number): EpochLogs {
  return { epoch, loss: 1, valLoss: 1, valScore, valScoreAt05: valScore, valIou: 0, valDice: 0, threshold: 0.5, lr: 0.01, seconds: 1, imagesPerSecond: 1 }
}

function control(elapsed = 0): TrainingControl & { reasons: string[]; saved: number[] } {
  const c = {
    reasons: [] as string[],
    saved: [] as number[],
    learningRate: 0.01,
    elapsedSeconds: elapsed,
    stop(reason: string) {
      c.reasons.push(reason)
    },
    async saveBest(l: EpochLogs) {
      c.saved.push(l.epoch)
    },
  }
  return c
}

describe('earlyStopping', () => {
  it('stops after `patience` epochs without a better score, and its state survives a resume', () => {
    const cb = earlyStopping(2)
    const c = control()
    cb.onEpochEnd?.(logs(0, 0.5), c)
    cb.onEpochEnd?.(logs(1, 0.5), c)
    expect(c.reasons).toEqual([])
    const resumed = earlyStopping(2)
    resumed.setState?.(JSON.parse(JSON.stringify(cb.getState?.())))
    resumed.onEpochEnd?.(logs(2, 0.49), c)
    expect(c.reasons[0]).toMatch(/early stopping/)
  })
})

describe('reduceLrOnPlateau', () => {
  it('cuts the rate on a plateau, not below minLr', () => {
    const cb = reduceLrOnPlateau({ patience: 1, factor: 0.1, minLr: 0.0005 })
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
  it('saves only on a better validation score', async () => {
    const cb = bestCheckpoint()
    const c = control()
    for (const [e, s] of [[0, 0.3], [1, 0.5], [2, 0.4], [3, NaN], [4, 0.6]] as const) await cb.onEpochEnd?.(logs(e, s), c)
    expect(c.saved).toEqual([0, 1, 4])
    expect(cb.best).toEqual({ score: 0.6, epoch: 4, threshold: 0.5 })
  })
})

describe('stopOnNaN and timeLimit', () => {
  it('stop on a non-finite loss and past the time budget', () => {
    const c = control(10)
    stopOnNaN().onBatchEnd?.(0.3, c)
    expect(c.reasons).toEqual([])
    stopOnNaN().onBatchEnd?.(NaN, c)
    stopOnNaN().onBatchEnd?.(Infinity, c)
    expect(c.reasons).toHaveLength(2)
    timeLimit(20).onBatchEnd?.(0.3, c)
    expect(c.reasons).toHaveLength(2)
    timeLimit(5).onBatchEnd?.(0.3, c)
    expect(c.reasons[2]).toMatch(/time limit of 5 s/)
  })
})
