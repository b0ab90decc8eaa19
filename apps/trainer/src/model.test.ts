import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { beforeAll, describe, expect, it } from 'vitest'
import { resolveTrainConfig } from './config'
import { buildModel, outputsLogits, resolveLoss } from './model'

describe('buildModel', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('draws the same initial weights for the same seed, others for another', async () => {
    const config = resolveTrainConfig({ imageSize: 16, depth: 1, filters: 2 })
    const a = await buildModel(config)
    const b = await buildModel(config)
    const c = await buildModel({ ...config, seed: 1 })
    const values = (m: typeof a): number[] => m.getWeights().flatMap((w) => Array.from(w.dataSync()))
    expect(values(a)).toEqual(values(b))
    expect(values(a)).not.toEqual(values(c))
    for (const m of [a, b, c]) m.dispose()
  })

  it('builds the VGG-16 U-Net for gray images, ending in logits for a logit loss', async () => {
    const config = resolveTrainConfig({ model: 'vgg16', imageSize: 32, loss: 'lovasz_hinge' })
    expect(outputsLogits(config)).toBe(true)
    const model = await buildModel(config)
    expect(model.inputs[0]?.shape).toEqual([null, 32, 32, 1])
    expect(model.outputs[0]?.shape).toEqual([null, 32, 32, 1])
    model.dispose()
  }, 60_000)

  it('names the valid losses when one is unknown', () => {
    expect(() => resolveLoss('dise')).toThrow(/--loss "dise" is not a known loss; use one of .*bce_dice/)
  })
})
