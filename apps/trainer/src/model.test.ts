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

  it('draws conv kernels He-normal: spread √(2 / fan-in), none beyond two deviations', async () => {
    const model = await buildModel(resolveTrainConfig({ imageSize: 32, depth: 2, filters: 16 }))
    const kernel = model.getLayer('enc2_conv2').getWeights()[0]!
    const [kh, kw, inChannels] = kernel.shape as number[]
    const expected = Math.sqrt(2 / (kh! * kw! * inChannels!))
    const values = Array.from(kernel.dataSync())
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length)
    expect(Math.abs(mean)).toBeLessThan(0.1 * expected)
    expect(std / expected).toBeGreaterThan(0.93)
    expect(std / expected).toBeLessThan(1.07)
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual((2 * expected) / 0.8796 + 1e-6)
    model.dispose()
  })

  it('freezes the VGG-16 encoder up to --freeze-up-to and keeps frozen kernels as built', async () => {
    const config = resolveTrainConfig({ model: 'vgg16', imageSize: 32, freezeUpTo: 'block2_pool' })
    const model = await buildModel(config)
    const trainable = new Set(model.trainableWeights.map((w) => w.originalName))
    expect([...trainable].some((n) => n.startsWith('block1_conv1'))).toBe(false)
    expect([...trainable].some((n) => n.startsWith('block2_conv2'))).toBe(false)
    expect([...trainable].some((n) => n.startsWith('block3_conv1'))).toBe(true)
    model.dispose()
  }, 60_000)

  it('refuses an unknown freeze point and encoder options without --model vgg16, naming the flag', async () => {
    await expect(buildModel(resolveTrainConfig({ model: 'vgg16', imageSize: 32, freezeUpTo: 'block9_conv1' }))).rejects.toThrow(
      /--freeze-up-to "block9_conv1"/,
    )
    expect(() => resolveTrainConfig({ freezeUpTo: 'block3' })).toThrow(/--freeze-up-to must be used only with --model vgg16/)
    expect(() => resolveTrainConfig({ encoderWeights: 'vgg16.h5' })).toThrow(/--encoder-weights must be used only with --model vgg16/)
  })

  it('names the valid losses when one is unknown', () => {
    expect(() => resolveLoss('dise')).toThrow(/--loss "dise" is not a known loss; use one of .*bce_dice/)
  })
})
