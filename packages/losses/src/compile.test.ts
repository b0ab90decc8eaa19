import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { createUnet } from '@unet/layers'
import { loadModel, saveModel } from '@unet/runtime'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { LOSS_METADATA_KEY, compileFromTrainingConfig, compileWithLoss, lossFromMetadata, savedLossSpec } from './compile'
import { LossError } from './errors'
import { getLoss } from './registry'
import { weightedLoss } from './weighted'
import { expectNoTensorLeaks } from './test-utils'

const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
beforeAll(async () => {
  await tf.setBackend('cpu')
})
afterAll(() => warn.mockRestore())
expectNoTensorLeaks()

async function saveToMemory(model: tfl.LayersModel, includeOptimizer: boolean): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined
  // tfjs-layers 4.22 leaks the optimizer's iteration-count scalar when saving with includeOptimizer;
  // a scope around the save reclaims it so the leak checks below see only this package's tensors
  tf.engine().startScope()
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    }),
    { includeOptimizer },
  )
  tf.engine().endScope()
  // what a model.json on disk keeps: everything but the weights goes through JSON
  const { weightData, ...json } = saved!
  return { ...(JSON.parse(JSON.stringify(json)) as tf.io.ModelArtifacts), weightData }
}

function batch(): { xs: tf.Tensor4D; ys: tf.Tensor4D } {
  return tf.tidy(() => {
    const xs = tf.randomUniform([2, 8, 8, 1]) as tf.Tensor4D
    return { xs, ys: tf.cast(tf.greater(xs, 0.5), 'float32') as tf.Tensor4D }
  })
}

function disposeModel(model: tfl.LayersModel): void {
  // a deserialised optimizer is not owned by the model, so model.dispose() leaves it
  const optimizer = model.optimizer
  model.dispose()
  optimizer?.dispose()
}

describe('saving and loading a model compiled with these losses', () => {
  it.each([
    ['lovasz_hinge', 'linear'],
    ['bce_dice', 'sigmoid'],
  ] as const)('%s: plain tf.loadLayersModel needs no custom objects; compileFromTrainingConfig restores loss and optimizer', async (name, outputActivation) => {
    const model = createUnet({ depth: 1, filters: 2, inputShape: [8, 8, 1], outputActivation, batchNormMomentum: null })
    const { xs, ys } = batch()
    const loaded: tfl.LayersModel[] = []
    try {
      compileWithLoss(model, { optimizer: 'adam', loss: name })
      await model.trainOnBatch(xs, ys)
      const artifacts = await saveToMemory(model, true)
      expect(artifacts.userDefinedMetadata?.[LOSS_METADATA_KEY]).toEqual({ name, options: getLoss(name).spec!.options })

      const plain = await tfl.loadLayersModel(tf.io.fromMemory(artifacts))
      loaded.push(plain)
      expect(savedLossSpec(plain)?.name).toBe(name)
      const loss = compileFromTrainingConfig(plain)
      expect(loss.lossName).toBe(name)
      expect(plain.optimizer.getClassName()).toBe('Adam')
      // Adam's moments came back with the training config: one more step moves both models alike
      const before = (await plain.evaluate(xs, ys)) as tf.Scalar
      const original = (await model.evaluate(xs, ys)) as tf.Scalar
      expect(before.dataSync()[0]).toBeCloseTo(original.dataSync()[0]!, 5)
      tf.dispose([before, original])
      await model.trainOnBatch(xs, ys)
      await plain.trainOnBatch(xs, ys)
      const kernel = (m: tfl.LayersModel) => m.getLayer('enc1_conv1').getWeights()[0]!.dataSync()
      const a = kernel(model)
      const b = kernel(plain)
      for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5)
    } finally {
      tf.dispose([xs, ys])
      model.dispose()
      loaded.forEach(disposeModel)
    }
  })

  it('restores a weighted sum with its options, and asks for an optimizer when none was saved', async () => {
    const model = createUnet({ depth: 1, filters: 2, inputShape: [8, 8, 1], outputActivation: 'linear' })
    const loss = weightedLoss([{ loss: 'bce_logits', weight: 0.5 }, { loss: 'lovasz_hinge_elu', weight: 1 }])
    compileWithLoss(model, { optimizer: 'sgd', loss })
    const artifacts = await saveToMemory(model, false)
    model.dispose()
    const plain = await tfl.loadLayersModel(tf.io.fromMemory(artifacts))
    try {
      expect(savedLossSpec(plain)).toEqual(loss.spec)
      const error = (() => {
        try {
          compileFromTrainingConfig(plain)
        } catch (e) {
          return e as LossError
        }
        return undefined
      })()
      expect(error).toBeInstanceOf(LossError)
      expect(error!.code).toBe('INVALID_OPTION')
      expect(error!.message).toMatch(/includeOptimizer/)
      const restored = compileFromTrainingConfig(plain, { optimizer: 'sgd' })
      expect(restored.spec).toEqual(loss.spec)
    } finally {
      disposeModel(plain)
    }
  })

  it('keeps other metadata, and says so when a model carries no loss of ours', async () => {
    const model = createUnet({ depth: 1, filters: 2, inputShape: [8, 8, 1] })
    // one optimizer for the three compiles: tfjs does not dispose an owned one when recompiling
    const optimizer = tf.train.adam()
    model.setUserDefinedMetadata({ epoch: 3 })
    compileWithLoss(model, { optimizer, loss: { name: 'focal', options: { gamma: 1 } } })
    expect(model.getUserDefinedMetadata()).toEqual({ epoch: 3, [LOSS_METADATA_KEY]: { name: 'focal', options: { alpha: 0.25, gamma: 1 } } })
    // recompiling with a user function drops the stale record
    compileWithLoss(model, { optimizer, loss: (y, p) => tf.mean(tf.square(tf.sub(y, p))) })
    expect(model.getUserDefinedMetadata()).toEqual({ epoch: 3 })
    model.compile({ optimizer, loss: getLoss('dice') })
    const artifacts = await saveToMemory(model, true)
    model.dispose()
    optimizer.dispose()
    const plain = await tfl.loadLayersModel(tf.io.fromMemory(artifacts))
    try {
      expect(() => compileFromTrainingConfig(plain)).toThrow(/carries no @unet\/losses loss.*compileWithLoss/)
    } finally {
      disposeModel(plain)
    }
  })

  it("goes through @unet/runtime's files: lossFromMetadata of model.json gives loadModel the loss to restore the optimizer with", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unet-losses-'))
    const model = createUnet({ depth: 1, filters: 2, inputShape: [8, 8, 1], batchNormMomentum: null })
    const { xs, ys } = batch()
    let loaded: tfl.LayersModel | undefined
    try {
      compileWithLoss(model, { optimizer: 'adam', loss: { name: 'jaccard', options: { perImage: true } } })
      await model.trainOnBatch(xs, ys)
      tf.engine().startScope() // reclaims the iteration-count scalar tfjs leaks on save
      await saveModel(model, dir, { includeOptimizer: true })
      tf.engine().endScope()
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { userDefinedMetadata?: unknown }
      const loss = lossFromMetadata(json.userDefinedMetadata)
      expect(loss?.spec).toEqual({ name: 'jaccard', options: { smooth: 1, perImage: true } })
      loaded = await loadModel(dir, { loss })
      expect(savedLossSpec(loaded)).toEqual(loss!.spec)
      await model.trainOnBatch(xs, ys)
      await loaded.trainOnBatch(xs, ys)
      const a = model.getLayer('output').getWeights()[0]!.dataSync()
      const b = loaded.getLayer('output').getWeights()[0]!.dataSync()
      for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5)
      expect(lossFromMetadata({ epoch: 1 })).toBeUndefined()
      expect(lossFromMetadata(null)).toBeUndefined()
    } finally {
      tf.dispose([xs, ys])
      model.dispose()
      if (loaded) disposeModel(loaded)
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
