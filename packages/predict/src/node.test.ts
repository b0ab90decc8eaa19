import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { saveModel } from '@unet/runtime'
import { beforeAll, describe, expect, it } from 'vitest'
import { latestRun, loadRunModel, readRun } from './node'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

const runJson = {
  format: 'unet-run',
  version: 2,
  model: 'best/model.json',
  input: { width: 8, height: 4, channels: 1 },
  prepare: { mode: 'resize', interpolation: 'bilinear' },
  scale: 'unit',
  output: { classes: 1, activation: 'sigmoid' },
  threshold: 0.5,
  rle: { order: 'column', idColumn: 'id', idSuffix: '' },
  layout: 'tgs',
  monitor: { name: 'val_dice', mode: 'max', best: 0.5, epoch: 0 },
  encoder: 'plain',
}

describe('readRun', () => {
  it('reads run.json and loads the model it names, nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'predict-run-'))
    const model = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [4, 8, 1], filters: 1, kernelSize: 1, activation: 'sigmoid' })] })
    await saveModel(model, join(dir, 'best'))
    writeFileSync(join(dir, 'run.json'), JSON.stringify(runJson))
    const folder = await readRun(dir)
    expect(folder.modelPath).toBe(join(dir, 'best', 'model.json'))
    expect(folder.inferenceModelPath).toBeNull()
    expect(folder.run.input).toEqual({ width: 8, height: 4, channels: 1 })
    const loaded = await loadRunModel(folder)
    expect(loaded.inputs[0]?.shape).toEqual([null, 4, 8, 1])
    loaded.dispose()
    model.dispose()
  })

  it('says what is wrong with a folder that is no run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'predict-run-'))
    await expect(readRun(dir)).rejects.toThrow(expect.objectContaining({ code: 'NO_RUN', message: expect.stringMatching(/is not a run folder \(no run.json\); pass --model/) }))
    await expect(readRun(join(dir, 'nope'))).rejects.toThrow(/does not exist/)
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...runJson, version: 7 }))
    await expect(readRun(dir)).rejects.toThrow(`${join(dir, 'run.json')} has run format version 7`)
  })

  it('finds the newest run under runs/', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'predict-cwd-'))
    expect(latestRun(cwd)).toBeNull()
    for (const name of ['a', 'b', 'c']) mkdirSync(join(cwd, 'runs', name), { recursive: true })
    writeFileSync(join(cwd, 'runs', 'a', 'run.json'), '{}')
    writeFileSync(join(cwd, 'runs', 'b', 'run.json'), '{}')
    const past = new Date(Date.now() - 60_000)
    utimesSync(join(cwd, 'runs', 'a', 'run.json'), past, past)
    expect(latestRun(cwd)).toBe(join(cwd, 'runs', 'b'))
  })
})
