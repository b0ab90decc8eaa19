import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { saveModel } from '@unet/runtime'
import { beforeAll, describe, expect, it } from 'vitest'
import { PredictError } from './errors'
import { hasEmptyClassifier, keepsMask, predictImages, predictProbabilities, predictTensor, resolveEmptyThreshold } from './probabilities'
import { parseRunFile } from './run-file'
import { loadRunModels, readModelSet } from './run-folder'
import { predictRun } from './predict-run'
import { encodePng } from '@unet/data'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

/** A 1×1 convolution with a fixed weight: probability = weight × pixel. */
function scaleModel(weight: number): tfl.LayersModel {
  const model = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [2, 2, 1], filters: 1, kernelSize: 1, useBias: false })] })
  model.setWeights([tf.tensor4d([weight], [1, 1, 1, 1])])
  return model
}

/** A two-output model as deep supervision builds it: `output` (the pixels) and `has_mask` (the image's mean pixel). */
function classifierModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [2, 2, 1] })
  const output = tfl.layers.activation({ activation: 'linear', name: 'output' }).apply(input) as tfl.SymbolicTensor
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'has_mask_pool' }).apply(input) as tfl.SymbolicTensor
  const hasMask = tfl.layers.activation({ activation: 'linear', name: 'has_mask' }).apply(pooled) as tfl.SymbolicTensor
  return tfl.model({ inputs: input, outputs: [output, hasMask] })
}

describe('averaging models and the empty classifier', () => {
  it('averages the probabilities of several models', async () => {
    const models = [scaleModel(0.2), scaleModel(0.6)]
    const image = { data: new Float32Array([1, 0.5, 0, 1]), count: 1, height: 2, width: 2, channels: 1 }
    const [p] = await predictProbabilities(models, image, { activation: 'sigmoid', tta: ['hflip'] })
    expect(Array.from(p!)).toEqual([0.4, 0.2, 0, 0.4].map((v) => Math.fround(v)).map((v, i) => expect.closeTo(v, 6) as unknown as number))
    for (const m of models) m.dispose()
  })

  it('reads a deep-supervised model through its mask output, and zeroes images the classifier calls empty', () => {
    const model = classifierModel()
    expect(hasEmptyClassifier(model)).toBe(true)
    expect(hasEmptyClassifier(scaleModel(1))).toBe(false)
    const before = tf.memory().numTensors
    // image 0: mean 0.3 (called empty at 0.5), image 1: mean 0.7
    const x = tf.tensor4d([0.3, 0.3, 0.3, 0.3, 0.7, 0.7, 0.7, 0.7], [2, 2, 2, 1])
    const kept = predictTensor(model, x, { activation: 'sigmoid' })
    expect(Array.from(kept.dataSync())).toEqual(Array.from(x.dataSync()))
    const zeroed = predictTensor(model, x, { activation: 'sigmoid', emptyThreshold: 0.5 })
    expect(Array.from(zeroed.dataSync()).map((v) => Number(v.toFixed(5)))).toEqual([0, 0, 0, 0, 0.7, 0.7, 0.7, 0.7])
    const none = predictTensor(model, x, { activation: 'sigmoid', emptyThreshold: 0.8 })
    expect(Array.from(none.dataSync())).toEqual(new Array(8).fill(0))
    kept.dispose()
    zeroed.dispose()
    none.dispose()
    x.dispose()
    expect(tf.memory().numTensors).toBe(before)
    expect(() => predictTensor(model, tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, { activation: 'sigmoid', emptyThreshold: 2 })).toThrow(PredictError)
    expect(() => predictTensor([], tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, { activation: 'sigmoid' })).toThrow(/no model/)
    model.dispose()
  })

  it('keepsMask is the one rule: at or above the threshold keeps, below zeroes, null keeps', () => {
    expect(keepsMask(0.5, 0.5)).toBe(true)
    expect(keepsMask(0.4999, 0.5)).toBe(false)
    expect(keepsMask(0, 0)).toBe(true)
    expect(keepsMask(0.1, null)).toBe(true)
    expect(keepsMask(null, 0.9)).toBe(true)
  })

  it('resolveEmptyThreshold: auto is run.json\'s classifier threshold, null is off, a probability is checked', () => {
    expect(resolveEmptyThreshold({ emptyClassifier: { output: 'has_mask', threshold: 0.4 } }, 'auto')).toBe(0.4)
    expect(resolveEmptyThreshold({ emptyClassifier: { output: 'has_mask', threshold: 0.4 } }, undefined)).toBe(0.4)
    expect(resolveEmptyThreshold({}, 'auto')).toBeNull()
    expect(resolveEmptyThreshold({ emptyClassifier: { output: 'has_mask', threshold: 0.4 } }, null)).toBeNull()
    expect(resolveEmptyThreshold({}, 0.7)).toBe(0.7)
    expect(() => resolveEmptyThreshold({}, 1.5)).toThrow(/not a probability/)
  })

  it('predictImages gives the maps unzeroed and the classifier\'s probability of each image; predictProbabilities zeroes by keepsMask', async () => {
    const model = classifierModel()
    const before = tf.memory().numTensors
    const images = { data: new Float32Array([0.3, 0.3, 0.3, 0.3, 0.7, 0.7, 0.7, 0.7, 0.5, 0.5, 0.5, 0.5]), count: 3, height: 2, width: 2, channels: 1 }
    // batches of 2: the classifier's probabilities of the second batch land after the first's
    const { probabilities, hasMask } = await predictImages(model, images, { activation: 'sigmoid', tta: ['hflip'], batchSize: 2 })
    expect(probabilities.map((p) => Array.from(p))).toEqual([0.3, 0.7, 0.5].map((v) => new Array(4).fill(Math.fround(v))))
    expect(Array.from(hasMask!)).toEqual([0.3, 0.7, 0.5].map((v) => Math.fround(v)))
    for (const t of [0.3, 0.5, 0.6]) {
      const zeroed = await predictProbabilities(model, images, { activation: 'sigmoid', tta: ['hflip'], batchSize: 2, emptyThreshold: t })
      expect(zeroed.map((p) => Array.from(p)), `threshold ${t}`).toEqual(probabilities.map((p, i) => (keepsMask(hasMask![i]!, t) ? Array.from(p) : [0, 0, 0, 0])))
    }
    expect(tf.memory().numTensors).toBe(before)
    const plain = scaleModel(1)
    expect((await predictImages(plain, images, { activation: 'sigmoid' })).hasMask).toBeNull()
    plain.dispose()
    model.dispose()
  })
})

const runJson = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  format: 'unet-run',
  version: 2,
  model: 'best/model.json',
  input: { width: 2, height: 2, channels: 1 },
  prepare: { mode: 'resize', interpolation: 'bilinear' },
  scale: 'unit',
  output: { classes: 1, activation: 'sigmoid' },
  threshold: 0.4,
  rle: { order: 'column', idColumn: 'id', idSuffix: '' },
  layout: 'tgs',
  monitor: { name: 'val_dice', mode: 'max', best: 0.5, epoch: 0 },
  encoder: 'plain',
  ...extra,
})

async function writeRun(dir: string, weight: number, extra: Record<string, unknown> = {}): Promise<void> {
  mkdirSync(dir, { recursive: true })
  const m = scaleModel(weight)
  await saveModel(m, join(dir, 'best'))
  for (const [i, s] of ((extra.snapshots as string[] | undefined) ?? []).entries()) await saveModel(scaleModel(weight + i), join(dir, s.replace(/\/model\.json$/, '')))
  m.dispose()
  writeFileSync(join(dir, 'run.json'), JSON.stringify(runJson(extra)))
}

describe('run.json additions and model sets', () => {
  it('reads emptyClassifier and snapshots, and refuses bad ones naming the field', () => {
    const run = parseRunFile(runJson({ emptyClassifier: { output: 'has_mask', threshold: 0.5 }, snapshots: ['checkpoints/snapshot-cycle-1-000004/model.json'] }), 'r/run.json')
    expect(run.emptyClassifier).toEqual({ output: 'has_mask', threshold: 0.5 })
    expect(run.snapshots).toEqual(['checkpoints/snapshot-cycle-1-000004/model.json'])
    expect(parseRunFile(runJson(), 'r/run.json').snapshots).toBeUndefined()
    expect(() => parseRunFile(runJson({ snapshots: ['../x/model.json'] }), 'r/run.json')).toThrow(/"snapshots\[0\]"/)
    expect(() => parseRunFile(runJson({ emptyClassifier: { output: 'has_mask', threshold: 2 } }), 'r/run.json')).toThrow(/emptyClassifier.threshold/)
  })

  it('reads a k-fold folder as its folds, and a run as its snapshots', async () => {
    const root = mkdtempSync(join(tmpdir(), 'model-set-'))
    await writeRun(join(root, 'fold-0'), 0.2, { threshold: 0.3, emptyClassifier: { output: 'has_mask', threshold: 0.4 } })
    await writeRun(join(root, 'fold-1'), 0.6, { threshold: 0.5 })
    const manifest = (status: string) => ({ format: 'unet-kfold', version: 1, folds: 2, runs: [{ fold: 0, dir: 'fold-0', status: 'finished' }, { fold: 1, dir: 'fold-1', status }] })
    writeFileSync(join(root, 'kfold.json'), JSON.stringify(manifest('partial')))
    await expect(readModelSet(root)).rejects.toThrow(/fold\(s\) 1 of 2 are not finished/)
    writeFileSync(join(root, 'kfold.json'), JSON.stringify(manifest('finished')))
    const set = await readModelSet(root)
    expect(set.kind).toBe('kfold')
    expect(set.modelPaths).toEqual([join(root, 'fold-0', 'best', 'model.json'), join(root, 'fold-1', 'best', 'model.json')])
    expect(set.run.threshold).toBe(0.4)
    expect(set.run.emptyClassifier).toBeUndefined() // only one fold has the classifier
    const models = await loadRunModels(set)
    const [p] = await predictProbabilities(models, { data: new Float32Array([1, 1, 1, 1]), count: 1, height: 2, width: 2, channels: 1 }, { activation: 'sigmoid' })
    expect(p![0]).toBeCloseTo(0.4, 6)
    for (const m of models) m.dispose()
    await expect(readModelSet(root, { snapshots: true })).rejects.toThrow(/no cosine snapshots/)

    // three folds at 0.35 average to 0.35 itself, not the float sum's 0.3499999999999999
    const three = join(root, 'three')
    for (const f of [0, 1, 2]) await writeRun(join(three, `fold-${f}`), 0.2, { threshold: 0.35, emptyClassifier: { output: 'has_mask', threshold: 0.35 } })
    writeFileSync(join(three, 'kfold.json'), JSON.stringify({ format: 'unet-kfold', version: 1, folds: 3, runs: [0, 1, 2].map((fold) => ({ fold, dir: `fold-${fold}`, status: 'finished' })) }))
    const averaged = await readModelSet(three)
    expect(averaged.run.threshold).toBe(0.35)
    expect(averaged.run.emptyClassifier).toEqual({ output: 'has_mask', threshold: 0.35 })

    const run = join(root, 'single')
    await writeRun(run, 0.1, { snapshots: ['checkpoints/snapshot-cycle-1-000002/model.json', 'checkpoints/snapshot-cycle-2-000004/model.json'] })
    const snaps = await readModelSet(run, { snapshots: true })
    expect(snaps.kind).toBe('run')
    expect(snaps.modelPaths).toHaveLength(2)
    const snapModels = await loadRunModels(snaps)
    const [q] = await predictProbabilities(snapModels, { data: new Float32Array([0.5, 0.5, 0.5, 0.5]), count: 1, height: 2, width: 2, channels: 1 }, { activation: 'sigmoid' })
    expect(q![0]).toBeCloseTo(0.5 * (0.1 + 1.1) / 2, 6)
    for (const m of snapModels) m.dispose()
  })
})

describe('predictRun with a "has mask" classifier', () => {
  it('zeroes the images the classifier calls empty by run.json\'s threshold, unless told otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'classifier-run-'))
    const model = classifierModel()
    await saveModel(model, join(dir, 'best'))
    model.dispose()
    writeFileSync(join(dir, 'run.json'), JSON.stringify(runJson({ emptyClassifier: { output: 'has_mask', threshold: 0.5 } })))
    const images = join(dir, 'images')
    mkdirSync(images)
    // a dark image (mean 0.2: called empty) and a bright one (mean 0.8)
    writeFileSync(join(images, 'dark.png'), encodePng(new Uint8Array(4).fill(51), { width: 2, height: 2, channels: 1 }))
    writeFileSync(join(images, 'bright.png'), encodePng(new Uint8Array(4).fill(204), { width: 2, height: 2, channels: 1 }))
    const means = async (emptyThreshold?: number | null): Promise<Record<string, number>> => {
      const seen: Record<string, number> = {}
      await predictRun(await readModelSet(dir), {
        images,
        ...(emptyThreshold !== undefined ? { emptyThreshold } : {}),
        onPrediction: ({ image, probabilities }) => void (seen[image.id] = Number((probabilities.reduce((a, b) => a + b, 0) / probabilities.length).toFixed(3))),
      })
      return seen
    }
    expect(await means()).toEqual({ dark: 0, bright: 0.8 })
    expect(await means(null)).toEqual({ dark: 0.2, bright: 0.8 })
    expect(await means(0.9)).toEqual({ dark: 0, bright: 0 })
  })
})
