import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createUnet } from '@unet/layers'
import { deepSupervisionLoss, getLoss, lossFor } from '@unet/losses'
import { beforeAll, describe, expect, it } from 'vitest'
import { bestCheckpoint, type EpochLogs } from './callbacks'
import { readState } from './checkpoint'
import type { Batch, FitData, ValidationBatch } from './data'
import { fit, type FitOptions } from './fit'
import { tinyData, tinyModel } from './testing'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

const root = mkdtempSync(join(tmpdir(), 'unet-fit-recipes-'))
let runs = 0
const bytes = (model: LayersModel): Buffer => Buffer.concat(model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer.slice(0))))
const timeless = (h: EpochLogs[]) => h.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest)

/** Trains to the end, cut after each global step in `cuts` and resumed with a fresh model each time. */
async function trainWithCuts(makeModel: () => LayersModel, data: FitData, base: FitOptions, cuts: number[]): Promise<{ model: LayersModel; history: EpochLogs[] }> {
  const dir = join(root, `run-${runs++}`)
  const pending = [...cuts]
  let resume = false
  for (;;) {
    const model = makeModel()
    const controller = new AbortController()
    const cut = pending.shift()
    const result = await fit(model, data, {
      ...base,
      checkpoints: dir,
      resume,
      signal: controller.signal,
      lossOverride: (step, loss) => {
        if (step === cut) controller.abort()
        return loss
      },
    })
    if (result.stopReason.kind === 'completed') return { model, history: result.history }
    expect((await readState(dir, 'last')).globalStep).toBe((cut as number) + 1)
    model.dispose()
    resume = true
  }
}

describe('fit: loss schedule', () => {
  // BCE+Dice (on the sigmoid of the logits) for two epochs, then the Lovasz hinge: the TGS winners' schedule
  const schedule = [
    { fromEpoch: 0, loss: lossFor('bce_dice', 'logits'), name: 'bce_dice' },
    { fromEpoch: 2, loss: lossFor('lovasz_hinge', 'logits'), name: 'lovasz_hinge' },
  ]
  const base: FitOptions = {
    epochs: 4,
    batchSize: 4,
    optimizer: { name: 'adam', learningRate: 0.01 },
    lossSchedule: schedule,
    logits: true,
    monitor: 'val_dice',
    seed: 3,
    callbacks: [bestCheckpoint({ monitor: 'val_dice' })],
  }
  const model = () => tinyModel({ outputActivation: 'linear', dropout: 0.2 })

  it('switches loss at the epoch given, and resumes exactly before and after the switch', async () => {
    const before = tf.memory().numTensors
    const straight = await trainWithCuts(model, tinyData(), base, [])
    const reference = bytes(straight.model)
    // 3 steps an epoch: step 4 is in epoch 1 (before the switch), step 8 in epoch 2 (after it), 5 at epoch 1's end
    for (const cuts of [[4], [8], [5, 10]]) {
      const resumed = await trainWithCuts(model, tinyData(), base, cuts)
      expect(bytes(resumed.model).equals(reference), `cut at ${cuts}`).toBe(true)
      expect(timeless(resumed.history), `cut at ${cuts}`).toEqual(timeless(straight.history))
      resumed.model.dispose()
    }
    // the switch is real: BCE+Dice throughout ends elsewhere, and identical until the switch
    const bceOnly = await trainWithCuts(model, tinyData(), { ...base, epochs: 4, lossSchedule: [schedule[0]!] }, [])
    expect(bytes(bceOnly.model).equals(reference)).toBe(false)
    expect(timeless(bceOnly.history).slice(0, 2)).toEqual(timeless(straight.history).slice(0, 2))
    // after the switch the validation loss is the Lovasz hinge's (BCE+Dice would be far from it on these logits)
    expect(straight.history[3]!.valLoss).not.toBeCloseTo(bceOnly.history[3]!.valLoss, 2)
    straight.model.dispose()
    bceOnly.model.dispose()
    expect(tf.memory().numTensors).toBe(before)
  }, 120_000)

  it('refuses a schedule out of order, or one that leaves the first epochs without a loss', async () => {
    const m = tinyModel()
    await expect(fit(m, tinyData(), { ...base, lossSchedule: [schedule[1]!, schedule[0]!] })).rejects.toThrow(/must increase/)
    await expect(fit(m, tinyData(), { ...base, lossSchedule: [schedule[1]!] })).rejects.toThrow(/give loss for the epochs before it/)
    m.dispose()
  })
})

/** 8×8 grey noise images; in about 60% of them a bright 3×3 square, which is the mask. Deterministic. */
function squares(count: number, offset: number): { x: Float32Array; y: Float32Array; empty: boolean[] } {
  let s = 1234 + offset
  const random = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s / 4294967296
  }
  const x = new Float32Array(count * 64)
  const y = new Float32Array(count * 64)
  const empty: boolean[] = []
  for (let n = 0; n < count; n++) {
    const has = random() >= 0.4
    empty.push(!has)
    const [r0, c0] = [Math.floor(random() * 6), Math.floor(random() * 6)]
    for (let p = 0; p < 64; p++) {
      const inside = has && Math.floor(p / 8) - r0 >= 0 && Math.floor(p / 8) - r0 < 3 && (p % 8) - c0 >= 0 && (p % 8) - c0 < 3
      x[n * 64 + p] = inside ? 0.8 + 0.2 * random() : 0.5 * random()
      y[n * 64 + p] = inside ? 1 : 0
    }
  }
  return { x, y, empty }
}

function squaresData(train: ReturnType<typeof squares>, validation: ReturnType<typeof squares>): FitData {
  const count = train.empty.length
  const slice = (set: ReturnType<typeof squares>, from: number, n: number): Batch => ({ x: set.x.slice(from * 64, (from + n) * 64), y: set.y.slice(from * 64, (from + n) * 64), count: n })
  return {
    train: { count, inputShape: [8, 8, 1], batch: (_epoch, step, batchSize) => slice(train, step * batchSize, Math.min(batchSize, count - step * batchSize)) },
    validation: {
      count: validation.empty.length,
      *batches(batchSize): Generator<ValidationBatch> {
        for (let s = 0; s < validation.empty.length; s += batchSize) {
          const b = slice(validation, s, Math.min(batchSize, validation.empty.length - s))
          const truths = Array.from({ length: b.count }, (_, k) => Uint8Array.from(b.y.subarray(k * 64, (k + 1) * 64)))
          yield { ...b, truths, restore: (p) => Float32Array.from(p) }
        }
      },
    },
  }
}

describe('fit: deep supervision', () => {
  it('trains every output of a deep-supervised U-Net: its "has mask" classifier learns empty vs not', async () => {
    const train = squares(48, 0)
    const test = squares(40, 99)
    const model = createUnet({ depth: 2, filters: 4, inputShape: [8, 8, 1], deepSupervision: true, seed: 7, batchNormMomentum: 0.8 }) as unknown as LayersModel
    expect(model.outputNames).toEqual(['output', 'has_mask', 'dec2_aux'])
    const accuracy = (): number =>
      tf.tidy(() => {
        const outputs = model.predict(tf.tensor4d(test.x, [40, 8, 8, 1])) as tf.Tensor[]
        const said = (outputs[1] as tf.Tensor).dataSync()
        return test.empty.filter((e, i) => (said[i]! >= 0.5) !== e).length / test.empty.length
      })
    const majority = Math.max(...[true, false].map((v) => test.empty.filter((e) => e === v).length)) / test.empty.length
    const untrained = accuracy()
    const before = tf.memory().numTensors
    const result = await fit(model, squaresData(train, test), {
      epochs: 4,
      batchSize: 8,
      optimizer: { name: 'adam', learningRate: 0.02 },
      loss: getLoss('bce_dice'),
      outputsLoss: (segmentation) => deepSupervisionLoss({ segmentation, classifierWeight: 1 }),
      monitor: 'val_dice',
      seed: 1,
    })
    expect(tf.memory().numTensors).toBe(before)
    const trained = accuracy()
    // the validation reads the main mask output, which learns too
    expect(result.history.at(-1)!.valDice).toBeGreaterThan(0.5)
    expect(trained).toBeGreaterThanOrEqual(0.9)
    expect(trained).toBeGreaterThanOrEqual(majority + 0.2)
    expect(trained).toBeGreaterThan(untrained)
    model.dispose()
  }, 60_000)

  it('resumes a deep-supervised run exactly, and refuses a multi-output model without an outputsLoss', async () => {
    const data = squaresData(squares(12, 3), squares(4, 4))
    const make = () => tinyModel({ deepSupervision: true, dropout: 0.2 })
    const base: FitOptions = { epochs: 2, batchSize: 4, optimizer: { name: 'adam', learningRate: 0.01 }, loss: getLoss('bce_dice'), outputsLoss: (segmentation) => deepSupervisionLoss({ segmentation }), seed: 2 }
    const straight = await trainWithCuts(make, data, base, [])
    const resumed = await trainWithCuts(make, data, base, [1, 3])
    expect(bytes(resumed.model).equals(bytes(straight.model))).toBe(true)
    straight.model.dispose()
    resumed.model.dispose()
    const m = make()
    await expect(fit(m, data, { ...base, outputsLoss: undefined as never })).rejects.toThrow(/give fit an outputsLoss/)
    m.dispose()
  }, 60_000)
})
