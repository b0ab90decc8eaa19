import * as tf from '@tensorflow/tfjs-core'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import '@tensorflow/tfjs-backend-cpu'
import { beforeAll, describe, expect, it } from 'vitest'
import { resolveTrainConfig, type TrainConfig } from './config'
import { readState } from './checkpoint'
import { train } from './train'

// Tiny enough to train in seconds on the cpu backend: 12 synthetic images at 16×16.
function tiny(out: string, extra: Partial<TrainConfig> = {}): TrainConfig {
  return resolveTrainConfig({
    out,
    backend: 'cpu',
    synthTrain: 12,
    synthTest: 2,
    imageSize: 16,
    depth: 1,
    filters: 2,
    batchSize: 4,
    epochs: 2,
    valSplit: 0.25,
    augment: ['flip', 'brightness'],
    lrPatience: 1,
    reportImages: 2,
    ...extra,
  })
}

const root = mkdtempSync(join(tmpdir(), 'unet-train-'))
// the model's weight bytes, whatever the weight files are called
const weights = (dir: string): Buffer => {
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] }
  return Buffer.concat(manifest.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p)))))
}

describe('train', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('resumed after an interrupt, ends exactly where an uninterrupted run ends', async () => {
    const before = tf.memory().numTensors
    const a = await train(tiny(join(root, 'a')), { report: false })
    expect(a.stopReason).toBe('completed')
    expect(a.history).toHaveLength(2)
    // every tensor of the run was disposed
    expect(tf.memory().numTensors).toBe(before)

    // interrupt in the middle of the second epoch (3 steps per epoch: 9 train images, batches of 4)
    const controller = new AbortController()
    const b1 = await train(tiny(join(root, 'b')), {
      report: false,
      signal: controller.signal,
      lossOverride: (step, loss) => {
        if (step === 3) controller.abort()
        return loss
      },
    })
    expect(b1.stopReason).toBe('interrupted')
    expect(b1.finished).toBe(false)
    const cut = await readState(join(root, 'b', 'last'))
    expect([cut.epoch, cut.step, cut.globalStep]).toEqual([1, 1, 4])

    const b2 = await train(tiny(join(root, 'b')), { resume: true, report: false })
    expect(b2.stopReason).toBe('completed')
    expect(b2.steps).toBe(a.steps)
    const strip = (h: typeof a.history) => h.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest)
    expect(strip(b2.history)).toEqual(strip(a.history))
    expect(weights(join(root, 'b', 'last')).equals(weights(join(root, 'a', 'last')))).toBe(true)
    expect(readFileSync(join(root, 'b', 'last', 'optimizer.bin')).equals(readFileSync(join(root, 'a', 'last', 'optimizer.bin')))).toBe(true)
    expect(tf.memory().numTensors).toBe(before)
  }, 240_000)

  it('stops on a NaN loss without touching the best checkpoint', async () => {
    const dir = join(root, 'nan')
    const s = await train(tiny(dir, { epochs: 3 }), { report: false, lossOverride: (step, loss) => (step === 4 ? NaN : loss) })
    expect(s.stopReason).toMatch(/loss became NaN/)
    expect(s.history).toHaveLength(1)
    const best = await readState(join(dir, 'best'))
    expect(best.epoch).toBe(1)
    // the last checkpoint is still the one from the end of epoch 1, not the broken weights
    const last = await readState(join(dir, 'last'))
    expect([last.epoch, last.step]).toEqual([1, 0])
    expect(weights(join(dir, 'last')).equals(weights(join(dir, 'best')))).toBe(true)
  }, 240_000)

  it('stops at the time limit, and --resume with a larger limit finishes the same run', async () => {
    const dir = join(root, 'timed')
    const cut = await train(tiny(dir, { timeLimit: 1e-6 }), { report: false })
    expect(cut.stopReason).toMatch(/time limit/)
    expect(cut.finished).toBe(false)
    expect(cut.steps).toBe(1)
    const done = await train(tiny(dir, { timeLimit: 0 }), { resume: true, report: false, explicitKeys: ['timeLimit'] })
    expect(done.stopReason).toBe('completed')
    expect(weights(join(dir, 'last')).equals(weights(join(root, 'a', 'last')))).toBe(true)
  }, 240_000)

  it('refuses to overwrite a run and refuses config changes on resume', async () => {
    await expect(train(tiny(join(root, 'a')))).rejects.toMatchObject({ code: 'BAD_FLAG' })
    await expect(train(tiny(join(root, 'a'), { filters: 3 }), { resume: true, explicitKeys: ['filters'] })).rejects.toMatchObject({
      code: 'RESUME_MISMATCH',
    })
    await expect(train(tiny(join(root, 'a')), { resume: true })).rejects.toThrow(/has finished \(completed\); raise --epochs above 2/)
  }, 60_000)

  it('writes history, config and the report', async () => {
    const dir = join(root, 'a')
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ imageSize: 16, seed: 42 })
    expect(readFileSync(join(dir, 'history.csv'), 'utf8').trim().split('\n')).toHaveLength(3)
    expect(existsSync(join(dir, 'report'))).toBe(false)
  })
})
