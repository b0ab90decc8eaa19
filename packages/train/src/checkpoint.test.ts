import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { bestCheckpoint } from './callbacks'
import { cleanCheckpoints, findCheckpoint, loadCheckpoint, readState, saveCheckpoint, type CheckpointStep, type TrainingState } from './checkpoint'
import { fit, type FitOptions } from './fit'
import { tinyData, tinyLoss, tinyModel } from './testing'

const root = mkdtempSync(join(tmpdir(), 'unet-ckpt-'))
let dirs = 0

class Crash extends Error {}

function state(epoch: number): TrainingState {
  return {
    format: 'unet-training-state', version: 2, epoch, step: 0, globalStep: epoch * 3, partialEpoch: { lossSum: 0, images: 0, seconds: 0 }, lr: 0.01,
    elapsedSeconds: 0, history: [], callbacks: {}, best: null, stopReason: null, finished: false,
  }
}

/** A hook that throws (a crash) at its `at`-th call; counts calls when `at` is -1. */
function crashAt(at: number): { hook: (step: CheckpointStep, path: string) => void; calls: string[] } {
  const calls: string[] = []
  return {
    calls,
    hook(step) {
      calls.push(step)
      if (calls.length - 1 === at) throw new Crash(`crash before ${step}`)
    },
  }
}

function bytes(model: LayersModel): Buffer {
  return Buffer.concat(model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer.slice(0))))
}

describe('checkpoints: every state a crash leaves is recoverable', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('a crash before each rename and unlink of two successive saves leaves the first or the second checkpoint, and the next start cleans up', async () => {
    const model = tinyModel()
    const count = crashAt(-1)
    const probe = join(root, `probe`)
    await saveCheckpoint(probe, 'last', { model, state: state(1) }, { beforeStep: count.hook })
    await saveCheckpoint(probe, 'last', { model, state: state(2) }, { beforeStep: count.hook })
    expect(count.calls).toEqual(['write-temp', 'rename-folder', 'write-pointer', 'write-temp', 'rename-folder', 'write-pointer', 'remove-previous'])
    for (let k = 0; k < count.calls.length; k++) {
      const dir = join(root, `crash-${dirs++}`)
      const { hook } = crashAt(k)
      let crashed = false
      try {
        await saveCheckpoint(dir, 'last', { model, state: state(1) }, { beforeStep: hook })
        await saveCheckpoint(dir, 'last', { model, state: state(2) }, { beforeStep: hook })
      } catch (e) {
        // a crash leaves the disk as it is: saveCheckpoint's own clean-up of the temp folder is what a kill skips
        crashed = e instanceof Crash || (e as Error).cause instanceof Crash
      }
      expect(crashed, `crash point ${k}`).toBe(true)
      // the next start
      await cleanCheckpoints(dir)
      const found = findCheckpoint(dir, 'last')
      const expected = k < 3 ? null : k < 6 ? 1 : 2
      if (expected === null) expect(found, `crash point ${k}`).toBeNull()
      else expect((await readState(dir, 'last')).epoch, `crash point ${k}`).toBe(expected)
      // nothing but the pointer and the version it names is left, and the next save works
      const left = readdirSync(dir).sort()
      expect(left.filter((n) => n.startsWith('.'))).toEqual([])
      expect(left.filter((n) => /^last-\d+$/.test(n))).toHaveLength(expected === null ? 0 : 1)
      await saveCheckpoint(dir, 'last', { model, state: state(3) })
      expect((await readState(dir, 'last')).epoch).toBe(3)
      expect(readdirSync(dir).filter((n) => /^last-\d+$/.test(n))).toHaveLength(1)
    }
    model.dispose()
  })

  it('a damaged pointer or a half-written temp folder never passes for a checkpoint', async () => {
    const dir = join(root, 'damaged')
    mkdirSync(join(dir, '.tmp-last-1-1'), { recursive: true })
    writeFileSync(join(dir, 'last.json'), '{"format":"unet-checkpoint-pointer","version":1,"fol')
    expect(findCheckpoint(dir, 'last')).toBeNull()
    writeFileSync(join(dir, 'last.json'), JSON.stringify({ format: 'unet-checkpoint-pointer', version: 1, folder: '../../etc' }))
    expect(findCheckpoint(dir, 'last')).toBeNull()
    expect(await cleanCheckpoints(dir)).toEqual(['.tmp-last-1-1'])
  })

  it('training crashed at each step of a mid-run save, then resumed (or restarted), ends bit-identical to an uninterrupted run', async () => {
    const options = (dir: string, extra: Partial<FitOptions> = {}): FitOptions => ({
      epochs: 2, batchSize: 4, optimizer: { name: 'adam', learningRate: 0.01 }, loss: tinyLoss, monitor: 'val_dice', seed: 3, checkpoints: dir,
      callbacks: [bestCheckpoint({ monitor: 'val_dice' })], ...extra,
    })
    const reference = tinyModel()
    await fit(reference, tinyData(8), options(join(root, `ref-${dirs++}`)))
    const want = bytes(reference)
    reference.dispose()
    // the saves of a run: best and last after epoch 1, best (maybe) and the final last after epoch 2
    const count = crashAt(-1)
    const probe = tinyModel()
    await fit(probe, tinyData(8), options(join(root, `probe-${dirs++}`), { checkpointStep: count.hook }))
    probe.dispose()
    for (let k = 0; k < count.calls.length - 1; k++) {
      const dir = join(root, `fit-crash-${dirs++}`)
      const m1 = tinyModel()
      await expect(fit(m1, tinyData(8), options(dir, { checkpointStep: crashAt(k).hook }))).rejects.toThrow()
      m1.dispose()
      await cleanCheckpoints(dir)
      const m2 = tinyModel()
      const resume = findCheckpoint(dir, 'last') !== null
      const r = await fit(m2, tinyData(8), options(dir, { resume }))
      expect(r.stopReason, `crash point ${k} (${count.calls[k]})`).toEqual({ kind: 'completed' })
      expect(bytes(m2).equals(want), `crash point ${k} (${count.calls[k]})`).toBe(true)
      const { model } = await loadCheckpoint(dir, 'last')
      expect(bytes(model).equals(want)).toBe(true)
      model.dispose()
      m2.dispose()
    }
  }, 120_000)
})
