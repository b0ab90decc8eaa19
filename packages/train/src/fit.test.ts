import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { bestCheckpoint, earlyStopping, reduceLrOnPlateau, stopOnNaN, timeLimit, type EpochLogs } from './callbacks'
import { findCheckpoint, readState } from './checkpoint'
import { fit, type FitOptions } from './fit'
import type { OptimizerSpec } from './optimizers'
import type { LrSchedule } from './schedules'
import { tinyData, tinyLoss, tinyModel } from './testing'

const root = mkdtempSync(join(tmpdir(), 'unet-fit-'))
let runs = 0

function bytes(model: LayersModel): Buffer {
  return Buffer.concat(model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer.slice(0))))
}
const timeless = (h: EpochLogs[]) => h.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest)

interface Case {
  optimizer: OptimizerSpec
  schedule: LrSchedule
  dropout: number
}

function options(c: Case, dir: string, extra: Partial<FitOptions> = {}): FitOptions {
  const callbacks = [bestCheckpoint({ monitor: 'val_dice' }), ...(c.schedule.name === 'plateau' ? [reduceLrOnPlateau({ monitor: 'val_dice', patience: 1, factor: 0.5, minLr: 1e-5 })] : [])]
  return { epochs: 3, batchSize: 4, optimizer: c.optimizer, schedule: c.schedule, loss: tinyLoss, monitor: 'val_dice', seed: 5, checkpoints: dir, callbacks, ...extra }
}

/** Trains to the end, cut (as by Ctrl-C) after each global step in `cuts` and resumed with a fresh model each time. */
async function trainWithCuts(c: Case, cuts: number[]): Promise<{ model: LayersModel; history: EpochLogs[]; steps: number }> {
  const dir = join(root, `run-${runs++}`)
  const pending = [...cuts]
  let resume = false
  for (;;) {
    const model = tinyModel({ dropout: c.dropout })
    const controller = new AbortController()
    const cut = pending.shift()
    const result = await fit(model, tinyData(), options(c, dir, {
      resume,
      signal: controller.signal,
      lossOverride: (step, loss) => {
        if (step === cut) controller.abort()
        return loss
      },
    }))
    if (result.stopReason.kind === 'completed') return { model, history: result.history, steps: result.steps }
    expect(result.stopReason.kind).toBe('interrupted')
    const state = await readState(dir, 'last')
    expect(state.globalStep).toBe((cut as number) + 1)
    model.dispose()
    resume = true
  }
}

const CASES: Record<string, Case> = {
  'adam, reduce-LR-on-plateau, dropout': { optimizer: { name: 'adam', learningRate: 0.01 }, schedule: { name: 'plateau', patience: 1, factor: 0.5, minLr: 1e-5 }, dropout: 0.3 },
  'sgd + momentum, cosine restarts, weight decay, dropout': { optimizer: { name: 'sgd', learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3 }, schedule: { name: 'cosine', cycleEpochs: 1, cycleMult: 2, minLr: 1e-4 }, dropout: 0.3 },
  'rmsprop + momentum, step schedule, dropout': { optimizer: { name: 'rmsprop', learningRate: 0.005, momentum: 0.5 }, schedule: { name: 'step', everyEpochs: 1, factor: 0.5 }, dropout: 0.3 },
}

describe('fit: resume is bit-identical to an uninterrupted run', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: resumed at steps 1, 2, 4, 5, 7 and 8 (odd, mid-epoch, at an epoch's end, four times in one run)`, async () => {
      const before = tf.memory().numTensors
      const straight = await trainWithCuts(c, [])
      expect(straight.steps).toBe(9)
      const reference = bytes(straight.model)
      const history = timeless(straight.history)
      straight.model.dispose()
      for (const cuts of [[1], [5], [2, 4, 7, 8]]) {
        const resumed = await trainWithCuts(c, cuts)
        expect(bytes(resumed.model).equals(reference), `cut at ${cuts}`).toBe(true)
        expect(timeless(resumed.history), `cut at ${cuts}`).toEqual(history)
        resumed.model.dispose()
      }
      // every tensor of every run was disposed
      expect(tf.memory().numTensors).toBe(before)
    }, 120_000)
  }

  it('dropout changes the result (the masks are really drawn), yet two runs with one seed agree', async () => {
    const c = CASES['adam, reduce-LR-on-plateau, dropout'] as Case
    const a = await trainWithCuts(c, [])
    const b = await trainWithCuts(c, [])
    const none = await trainWithCuts({ ...c, dropout: 0 }, [])
    expect(bytes(a.model).equals(bytes(b.model))).toBe(true)
    expect(bytes(a.model).equals(bytes(none.model))).toBe(false)
    for (const m of [a, b, none]) m.model.dispose()
  }, 60_000)
})

describe('fit: stopping', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })
  const c = CASES['adam, reduce-LR-on-plateau, dropout'] as Case

  it('stops on a NaN loss without saving the broken weights', async () => {
    const dir = join(root, 'nan')
    const model = tinyModel()
    const r = await fit(model, tinyData(), options(c, dir, { callbacks: [stopOnNaN(), bestCheckpoint({ monitor: 'val_dice' })], lossOverride: (s, l) => (s === 4 ? NaN : l) }))
    expect(r.stopReason).toEqual({ kind: 'nan_loss', loss: NaN, globalStep: 4 })
    expect(r.finished).toBe(true)
    expect(r.history).toHaveLength(1)
    // the last checkpoint is the one from the end of epoch 1
    const last = await readState(dir, 'last')
    expect([last.epoch, last.step]).toEqual([1, 0])
    expect(findCheckpoint(dir, 'best')).not.toBeNull()
    model.dispose()
  })

  it('stops at the time limit (resumable) and early (finished), with the reason as a value', async () => {
    const m1 = tinyModel()
    const timed = await fit(m1, tinyData(), options(c, join(root, 'timed'), { callbacks: [timeLimit(1e-9)] }))
    expect(timed.stopReason).toEqual({ kind: 'time_limit', seconds: 1e-9 })
    expect(timed.finished).toBe(false)
    expect(timed.steps).toBe(1)
    const m2 = tinyModel()
    const early = await fit(m2, tinyData(), options(c, join(root, 'early'), { epochs: 10, callbacks: [earlyStopping({ monitor: 'val_loss', patience: 0 })] }))
    expect(early.stopReason).toEqual({ kind: 'early_stopping', monitor: 'val_loss', patience: 0 })
    expect(early.finished).toBe(true)
    expect(early.history).toHaveLength(1)
    m1.dispose()
    m2.dispose()
  })

  it('learns the toy task: validation Dice well above the all-foreground and empty baselines', async () => {
    const model = tinyModel()
    const r = await fit(model, tinyData(24), { epochs: 12, batchSize: 4, optimizer: { name: 'adam', learningRate: 0.02 }, loss: tinyLoss, monitor: 'val_dice' })
    const v = r.lastValidation!
    expect(v.chosen.dice).toBeGreaterThan(Math.max(v.baselines.empty.dice, v.baselines.full.dice) + 0.2)
    // nothing written without a checkpoint folder
    expect(readdirSync(root)).not.toContain('checkpoints')
    model.dispose()
  }, 60_000)

  it('refuses a finished run and a resume without a checkpoint, with what to do', async () => {
    const dir = join(root, 'early')
    await expect(fit(tinyModel(), tinyData(), options(c, dir, { epochs: 10, resume: true }))).rejects.toThrow(/has finished \(early_stopping\); start a new run/)
    await expect(fit(tinyModel(), tinyData(), options(c, join(root, 'none'), { resume: true }))).rejects.toMatchObject({ code: 'NO_CHECKPOINT' })
  })
})
