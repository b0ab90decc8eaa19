import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lossNames } from '@unet/losses'
import { evaluateRun, readModelSet } from '@unet/predict/node'
import { beforeAll, describe, expect, it } from 'vitest'
import { trainConfigFromFlags } from './commands/train'
import { parseLossSchedule, resolveTrainConfig, type TrainConfig } from './config'
import { trainKfold } from './kfold'
import { buildModel, outputsLogits } from './model'
import { silentReporter } from './progress'
import { isConfident, selectPseudoLabels } from './pseudo-label'
import { describeRecipe, RECIPES } from './recipes'
import { synth } from './synth'
import { train } from './train'

const root = mkdtempSync(join(tmpdir(), 'unet-recipes-'))

beforeAll(async () => {
  await tf.setBackend('cpu')
})

// tiny enough for seconds on the cpu backend: 16×16 synthetic images, a depth-2 U-Net of 2 filters
function tiny(out: string, extra: Partial<TrainConfig> = {}): TrainConfig {
  return resolveTrainConfig({
    out,
    backend: 'cpu',
    synthTrain: 16,
    imageSize: 16,
    depth: 2,
    filters: 2,
    batchSize: 8,
    epochs: 2,
    valSplit: 0.25,
    reportImages: 0,
    ...extra,
  })
}

describe('--loss-schedule', () => {
  it('parses loss@epoch phases, and refuses bad ones in one line listing the valid names', () => {
    expect(parseLossSchedule('bce_dice@0,lovasz_hinge@6')).toEqual([
      { loss: 'bce_dice', fromEpoch: 0 },
      { loss: 'lovasz_hinge', fromEpoch: 6 },
    ])
    for (const bad of ['bce_dice@0,lovaz@3', 'bce_dice', 'bce_dice@0,lovasz_hinge@0', '']) {
      const message = (() => {
        try {
          parseLossSchedule(bad)
        } catch (e) {
          return (e as Error).message
        }
        return ''
      })()
      expect(message, bad).toContain(lossNames.join(', '))
      expect(message.split('\n'), bad).toHaveLength(1)
    }
    // a config file may give the text
    expect(resolveTrainConfig({ lossSchedule: 'dice@0,lovasz_hinge@2' as never }).lossSchedule).toEqual([
      { loss: 'dice', fromEpoch: 0 },
      { loss: 'lovasz_hinge', fromEpoch: 2 },
    ])
  })

  it('makes the model output logits when a phase takes them', () => {
    expect(outputsLogits({ loss: 'bce_dice', lossSchedule: null })).toBe(false)
    expect(outputsLogits({ loss: 'bce_dice', lossSchedule: parseLossSchedule('bce_dice@0,lovasz_hinge@6') })).toBe(true)
    // a schedule from epoch 0 replaces --loss
    expect(outputsLogits({ loss: 'lovasz_hinge', lossSchedule: parseLossSchedule('bce_dice@0') })).toBe(false)
  })
})

describe('--recipe', () => {
  it('sets the preset under the flags, and says what it turned on and what the user overrode', async () => {
    const lines: string[] = []
    const { config, explicitKeys } = await trainConfigFromFlags({ recipe: 'tgs-winner', epochs: 3, out: join(root, 'r') }, { print: (l) => lines.push(l) })
    const preset = RECIPES['tgs-winner'].settings
    expect(config.encoder).toBe(preset.encoder)
    expect(config.decoderAttention).toBe('scse')
    expect(config.hypercolumn).toBe(true)
    expect(config.batchSize).toBe(preset.batchSize)
    expect(config.epochs).toBe(3)
    expect(config.recipe).toBe('tgs-winner')
    expect(explicitKeys).toContain('epochs')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('encoder=resnet34')
    expect(lines[0]).toContain('hypercolumn=true')
    expect(lines[0]).toContain('(yours instead: --epochs)')
    expect(describeRecipe('tgs-winner', []).overridden).toEqual([])
    await expect(trainConfigFromFlags({ recipe: 'nope', out: 'x' })).rejects.toThrow(/use one of tgs-winner/)
  })

  it('builds the model the flags ask for: scSE, hypercolumn, deep supervision', async () => {
    const model = await buildModel(tiny(join(root, 'm'), { decoderAttention: 'scse', hypercolumn: true, deepSupervision: true }))
    expect(model.outputNames).toEqual(['output', 'has_mask', 'dec2_aux'])
    expect(model.layers.some((l) => l.name === 'dec1_scse')).toBe(true)
    expect(model.layers.some((l) => l.name === 'hypercolumn')).toBe(true)
    model.dispose()
  })
})

describe('deep supervision, loss schedule and snapshots through unet train', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('records the classifier and the cosine snapshots in run.json, which predict averages', async () => {
    const out = join(root, 'ds')
    const config = tiny(out, {
      epochs: 2,
      deepSupervision: true,
      lossSchedule: parseLossSchedule('bce_dice@0,lovasz_hinge@1'),
      lrSchedule: 'cosine',
      lrCycleEpochs: 1,
      patience: 0,
    })
    const summary = await train(config, { report: false })
    expect(summary.finished).toBe(true)
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'))
    expect(run.output.activation).toBe('linear')
    expect(run.emptyClassifier).toEqual({ output: 'has_mask', threshold: 0.5 })
    expect(run.snapshots).toHaveLength(2)
    const set = await readModelSet(out, { snapshots: true })
    expect(set.modelPaths).toHaveLength(2)
    expect(set.modelPaths.every((p) => /snapshot-cycle-[12]-/.test(p) && existsSync(p))).toBe(true)
  }, 60_000)
})

describe('unet kfold', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('trains K folds into DIR/fold-i, resumes a partial fold, skips finished ones, and predicts their average', async () => {
    const out = join(root, 'cv')
    const calls: { fold: number; resume: boolean }[] = []
    const trainFold = (c: TrainConfig, o: { resume: boolean; explicitKeys: readonly string[] }) => {
      calls.push({ fold: c.fold, resume: o.resume })
      return train(c, { ...o, report: false, reporter: silentReporter() })
    }
    // a time limit stops the first fold after one step: partial
    const first = await trainKfold(tiny(out, { folds: 2, timeLimit: 1e-9 }), trainFold, { explicitKeys: ['folds', 'timeLimit'] })
    expect(first.manifest.runs.map((r) => r.status)).toEqual(['partial', 'pending'])
    const second = await trainKfold(tiny(out, { folds: 2, timeLimit: 0 }), trainFold, { explicitKeys: ['folds', 'timeLimit'] })
    expect(second.manifest.runs.map((r) => r.status)).toEqual(['finished', 'finished'])
    const third = await trainKfold(tiny(out, { folds: 2 }), trainFold, { explicitKeys: ['folds'] })
    expect(third.trained).toHaveLength(0)
    // the folds all learn the same way: a rerun cannot change what they learn
    await expect(trainKfold(tiny(out, { folds: 2, seed: 5 }), trainFold, { explicitKeys: ['folds', 'seed'] })).rejects.toThrow(/cannot continue with 5/)
    expect(calls).toEqual([
      { fold: 0, resume: false },
      { fold: 0, resume: true },
      { fold: 1, resume: false },
    ])
    // the folds are train --folds 2 --fold i: their validation sets differ
    const configs = [0, 1].map((i) => JSON.parse(readFileSync(join(out, `fold-${i}`, 'config.json'), 'utf8')) as TrainConfig)
    expect(configs.map((c) => [c.folds, c.fold])).toEqual([
      [2, 0],
      [2, 1],
    ])
    const data = join(root, 'synth-cv')
    await synth({ out: data, count: 8, testCount: 0, seed: 1 })
    const set = await readModelSet(out)
    expect(set.kind).toBe('kfold')
    expect(set.modelPaths).toHaveLength(2)
    const scores = await evaluateRun(set, { data, tta: ['hflip'] })
    expect(scores.images).toBe(8)
  }, 120_000)
})

describe('unet pseudo-label', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('keeps an image only when every pixel is below the lower bound or above the upper one', () => {
    expect(isConfident([0.05, 0.95, 0.1, 0.81], 0.2, 0.8)).toBe(true)
    expect(isConfident([0.05, 0.95, 0.5], 0.2, 0.8)).toBe(false)
    expect(isConfident([0.2], 0.2, 0.8)).toBe(false) // the bounds themselves are not confident
    expect(isConfident([0.8], 0.2, 0.8)).toBe(false)
    expect(isConfident(new Float32Array([0.199, 0.801]), 0.2, 0.8)).toBe(true)
  })

  it('predicts the test images, adds the confident ones to a new round and records their ids', async () => {
    const data = join(root, 'synth-pl')
    await synth({ out: data, count: 16, testCount: 4, seed: 3 })
    const source = join(root, 'pl-source')
    await train(tiny(source, { data, synthTrain: 16 }), { report: false })
    const round = join(root, 'pl-round')
    // a band that no probability can fall outside of keeps nothing; the whole range keeps everything
    const none = await selectPseudoLabels({ model: source, test: join(data, 'test', 'images'), runDir: join(root, 'pl-none'), confidentBelow: 0, confidentAbove: 1 })
    expect(none.ids).toEqual([])
    expect(none.predicted).toBe(4)
    const record = await selectPseudoLabels({ model: source, test: join(data, 'test', 'images'), runDir: round, confidentBelow: 1, confidentAbove: 1, tta: ['hflip'] })
    expect(record.ids).toHaveLength(4)
    expect(readdirSync(join(round, 'pseudo', 'masks')).sort()).toEqual(record.ids.map((id) => `${id}.png`).sort())
    let trainCount = 0
    const summary = await train(tiny(round, { data, synthTrain: 16, epochs: 1, pseudoLabels: join(round, 'pseudo') }), {
      report: false,
      reporter: { ...silentReporter(), start: (info) => void (trainCount = info.trainCount) },
    })
    expect(summary.finished).toBe(true)
    // 12 of the 16 train images are trained on (a quarter is validation), plus the 4 pseudo-labelled ones
    expect(trainCount).toBe(12 + 4)
    expect(JSON.parse(readFileSync(join(round, 'pseudo-labels.json'), 'utf8')).ids).toEqual(record.ids)
  }, 120_000)
})
