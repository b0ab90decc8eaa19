import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { createUnet } from '@unet/layers'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createEncoder, resnetEncoder } from './encoder'
import { ResnetEncoderError } from './errors'
import { ENCODERS, encoderChannels } from './names'
import { IMAGENET_MEAN, IMAGENET_STD } from './preprocess'

let start = 0
beforeAll(async () => {
  await tf.setBackend('cpu')
})
beforeEach(() => {
  start = tf.memory().numTensors
})
afterEach(() => {
  expect(tf.memory().numTensors).toBe(start)
})

const trainableCount = (model: tfl.LayersModel): number => model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a, b) => a! * b!, 1)!, 0)

describe('createEncoder', () => {
  it('gives five feature maps at strides 2 … 32 on a non-square input, with torchvision parameter counts', () => {
    const expected: Record<string, number> = { resnet18: 11_176_512, resnet34: 21_284_672 } // torchvision, without fc
    for (const name of ['resnet18', 'resnet34'] as const) {
      const model = createEncoder(name, { inputShape: [64, 96, 3] })
      const channels = encoderChannels(name)
      expect(model.outputs.map((o) => o.shape)).toEqual([1, 2, 3, 4, 5].map((k, i) => [null, 64 / 2 ** k, 96 / 2 ** k, channels[i]]))
      expect(trainableCount(model)).toBe(expected[name])
      expect(model.layers.some((l) => l.name.includes('_se_'))).toBe(false)
      model.dispose()
    }
  })

  it('builds bottleneck and SE variants: expansion 4, an SE block with channels / 16 units after each block', () => {
    expect(encoderChannels('resnet50')).toEqual([64, 256, 512, 1024, 2048])
    const model = createEncoder('seresnet18', { inputShape: [32, 32, 3] })
    expect(model.getLayer('layer1_0_se_fc1').getWeights()[0]!.shape).toEqual([1, 1, 64, 4])
    expect(model.getLayer('layer4_1_se_fc2').getWeights()[0]!.shape).toEqual([1, 1, 32, 512])
    // resnet18's parameters plus two 1×1 convolutions with bias per block
    const se = [64, 128, 256, 512].reduce((n, c) => n + 2 * (c * (c / 16) * 2 + c / 16 + c), 0)
    expect(trainableCount(model)).toBe(11_176_512 + se)
    // explicit symmetric padding, then 'valid' convolutions (as PyTorch)
    expect(model.getLayer('conv1_pad').getConfig().padding).toEqual([[3, 3], [3, 3]])
    expect(model.getLayer('conv1').getConfig().padding).toBe('valid')
    model.dispose()
  })

  it('draws the same weights for one seed', () => {
    const a = createEncoder('resnet18', { inputShape: [32, 32, 3], seed: 5 })
    const b = createEncoder('resnet18', { inputShape: [32, 32, 3], seed: 5 })
    expect(Array.from(a.getLayer('layer3_1_conv2').getWeights()[0]!.dataSync())).toEqual(Array.from(b.getLayer('layer3_1_conv2').getWeights()[0]!.dataSync()))
    a.dispose()
    b.dispose()
  })

  it('names the valid encoders for an unknown one, and refuses shapes it cannot halve five times', () => {
    expect(ENCODERS).toEqual(['resnet18', 'resnet34', 'resnet50', 'seresnet18', 'seresnet34', 'seresnet50'])
    let error: unknown
    try {
      createEncoder('resnet35')
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ResnetEncoderError)
    expect((error as ResnetEncoderError).code).toBe('UNKNOWN_ENCODER')
    expect((error as ResnetEncoderError).message).toContain("'resnet35' is not a ResNet encoder; use one of resnet18, resnet34, resnet50, seresnet18, seresnet34, seresnet50")
    expect(() => resnetEncoder('vgg16')).toThrow(/use one of resnet18/)
    expect(() => createEncoder('resnet18', { inputShape: [100, 96, 3] })).toThrow(/multiples of 32/)
    expect(() => createEncoder('resnet18', { inputShape: [96, 96, 1] })).toThrow(/\[height, width, 3\]/)
  })
})

describe('resnetEncoder in a U-Net', () => {
  it('normalises with ImageNet mean/std inside the model, grey repeated to three channels', () => {
    for (const channels of [1, 3]) {
      const model = createUnet({ encoder: resnetEncoder('resnet18'), inputShape: [32, 64, channels], decoderFilters: [2, 2, 2, 2, 2] })
      const pre = model.getLayer('imagenet_preprocess')
      expect(pre.trainable).toBe(false)
      tf.tidy(() => {
        const x = tf.randomUniform([1, 32, 64, channels], 0, 1, 'float32', 2)
        const inside = subModel(model, 'imagenet_preprocess').predict(x) as tf.Tensor
        const rgb = channels === 1 ? tf.tile(x, [1, 1, 1, 3]) : x
        const expected = tf.div(tf.sub(rgb, tf.tensor1d([...IMAGENET_MEAN])), tf.tensor1d([...IMAGENET_STD]))
        expect(tf.max(tf.abs(tf.sub(inside, expected))).dataSync()[0]).toBeLessThan(1e-5)
      })
      // five decoder stages, dec1 without a skip (a ResNet has no stride-1 features)
      expect(model.getLayer('dec2_concat')).toBeDefined()
      expect(model.layers.map((l) => l.name)).not.toContain('dec1_concat')
      expect(model.outputs[0]!.shape).toEqual([null, 32, 64, 1])
      expect(model.name).toBe('resnet18_unet')
      model.dispose()
    }
  })

  it('freezes by stage name, stage number or layer name; an unknown point lists the stages', () => {
    const model = createUnet({ encoder: resnetEncoder('resnet18'), inputShape: [32, 32, 3], freezeUpTo: 'layer2' })
    expect(model.getLayer('conv1').trainable).toBe(false)
    expect(model.getLayer('layer2_1_bn2').trainable).toBe(false)
    expect(model.getLayer('layer2_0_downsample_0').trainable).toBe(false)
    expect(model.getLayer('layer3_0_conv1').trainable).toBe(true)
    expect(model.getLayer('dec5_conv1').trainable).toBe(true)
    model.dispose()
    const byNumber = createUnet({ encoder: resnetEncoder('resnet18'), inputShape: [32, 32, 3], freezeUpTo: 1 })
    expect(byNumber.getLayer('bn1').trainable).toBe(false)
    expect(byNumber.getLayer('layer1_0_conv1').trainable).toBe(true)
    byNumber.dispose()
    expect(() => createUnet({ encoder: resnetEncoder('resnet18'), inputShape: [32, 32, 3], freezeUpTo: 'layer9' })).toThrow(
      /not a stage or layer of the resnet18 encoder; use a stage \(stem, layer1, layer2, layer3, layer4\)/,
    )
  })
})

function subModel(model: tfl.LayersModel, layer: string): tfl.LayersModel {
  return tfl.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tfl.SymbolicTensor })
}
