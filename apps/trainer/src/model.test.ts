import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { beforeAll, describe, expect, it } from 'vitest'
import { resolveTrainConfig } from './config'
import { buildModel, ENCODER_CHOICES, outputsLogits, resolveLoss } from './model'

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

  it("draws conv kernels with tfjs' He-normal: a normal of deviation √(2 / fan-in) truncated at two deviations", async () => {
    const model = await buildModel(resolveTrainConfig({ imageSize: 32, depth: 2, filters: 16 }))
    const kernel = model.getLayer('enc2_conv2').getWeights()[0]!
    const [kh, kw, inChannels] = kernel.shape as number[]
    const expected = Math.sqrt(2 / (kh! * kw! * inChannels!))
    const values = Array.from(kernel.dataSync())
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length)
    expect(Math.abs(mean)).toBeLessThan(0.1 * expected)
    // tfjs does not rescale after truncating, so the spread is 0.88 of the deviation
    expect(std / expected).toBeGreaterThan(0.82)
    expect(std / expected).toBeLessThan(0.94)
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(2 * expected + 1e-6)
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

  it('refuses an unknown freeze point and encoder options without a pretrained encoder, naming the flag', async () => {
    await expect(buildModel(resolveTrainConfig({ model: 'vgg16', imageSize: 32, freezeUpTo: 'block9_conv1' }))).rejects.toThrow(
      /--freeze-up-to "block9_conv1"/,
    )
    await expect(buildModel(resolveTrainConfig({ encoder: 'resnet18', imageSize: 32, freezeUpTo: 'layer7' }))).rejects.toThrow(
      /--freeze-up-to "layer7": .*use a stage \(stem, layer1, layer2, layer3, layer4\)/,
    )
    expect(() => resolveTrainConfig({ freezeUpTo: 'block3' })).toThrow(/--freeze-up-to must be used only with a pretrained encoder \(--encoder vgg16\|resnet18/)
    expect(() => resolveTrainConfig({ encoderWeights: 'vgg16.h5' })).toThrow(/--encoder-weights must be used only with a pretrained encoder/)
    expect(() => resolveTrainConfig({ encoder: 'resnet35' as never })).toThrow(/--encoder must be one of plain, vgg16, resnet18, resnet34, resnet50, seresnet18, seresnet34, seresnet50/)
    expect(() => resolveTrainConfig({ encoder: 'resnet34', imageSize: 112 })).toThrow(/--image-size must be a multiple of 32 with --encoder resnet34/)
    expect(() => resolveTrainConfig({ encoder: 'resnet34', model: 'vgg16' })).toThrow(/--model must be vgg16 only with --encoder vgg16/)
  }, 60_000)

  it('builds every encoder by name, the same weights for one seed, frozen up to --freeze-up-to', async () => {
    expect(ENCODER_CHOICES).toEqual(['plain', 'vgg16', 'resnet18', 'resnet34', 'resnet50', 'seresnet18', 'seresnet34', 'seresnet50'])
    const config = resolveTrainConfig({ encoder: 'seresnet34', imageSize: 32, freezeUpTo: 'layer1', loss: 'bce_logits' })
    const [a, b] = [await buildModel(config), await buildModel(config)]
    expect(a.inputs[0]?.shape).toEqual([null, 32, 32, 1])
    expect(a.getLayer('layer3_5_se_fc2')).toBeDefined()
    expect(a.getLayer('layer1_2_conv2').trainable).toBe(false)
    expect(a.getLayer('layer2_0_conv1').trainable).toBe(true)
    expect(a.getLayer('output').getConfig().activation).toBe('linear')
    const values = (m: typeof a) => Array.from(m.getLayer('layer4_2_conv2').getWeights()[0]!.dataSync().slice(0, 50))
    expect(values(a)).toEqual(values(b))
    a.dispose()
    b.dispose()
  }, 120_000)

  it("builds classification_models' network for Keras .h5 ResNet weights and loads them", async () => {
    const fixture = new URL('../../../packages/resnet-encoder/fixtures/seresnet18-pattern-cm.h5', import.meta.url).pathname
    const model = await buildModel(resolveTrainConfig({ encoder: 'seresnet18', imageSize: 32, encoderWeights: fixture, freezeUpTo: 'layer2' }))
    expect(model.getLayer('bn_data')).toBeDefined()
    expect(model.getLayer('stage2_unit2_conv2').trainable).toBe(false)
    expect(model.getLayer('stage3_unit1_conv1').trainable).toBe(true)
    // the file's arrays hold k / 1000 in their tails: conv0's kernel is its fourth array
    const kernel = model.getLayer('conv0').getWeights()[0]!.dataSync()
    expect(kernel[kernel.length - 1]).toBeCloseTo(0.003, 6)
    model.dispose()
  }, 120_000)

  it('names the file when ResNet weights cannot be loaded', async () => {
    await expect(buildModel(resolveTrainConfig({ encoder: 'resnet18', imageSize: 32, encoderWeights: '/nonexistent/resnet18.safetensors' }))).rejects.toThrow(
      /--encoder-weights: cannot load resnet18 weights from \/nonexistent\/resnet18.safetensors: loadEncoderWeights: cannot read/,
    )
  }, 60_000)

  it('names the valid losses when one is unknown', () => {
    expect(() => resolveLoss('dise')).toThrow(/--loss "dise" is not a known loss; use one of .*bce_dice/)
  })
})
