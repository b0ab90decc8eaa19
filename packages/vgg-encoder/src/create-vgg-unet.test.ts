import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { VGG16_CONV_LAYERS, vggKernelShape } from './architecture'
import { createUnet } from '@unet/layers'
import { createVggUnet, vggEncoder, type VggUnetOptions } from './create-vgg-unet'
import { VggError } from './errors'
import { IMAGENET_BGR_MEANS, vggPreprocess } from './preprocess'

const tiny = [2, 2, 2, 2, 2] as const
let start: number
beforeAll(async () => {
  await tf.setBackend('cpu')
})
beforeEach(() => {
  start = tf.memory().numTensors
})
afterEach(() => {
  expect(tf.memory().numTensors).toBe(start)
})

/** The names of the layers whose outputs feed a layer. */
const inputsOf = (model: tfl.LayersModel, name: string): string[] =>
  model.getLayer(name).inboundNodes[0]?.inboundLayers.map((layer) => layer.name) ?? []

function thrown(options: VggUnetOptions): VggError {
  try {
    createVggUnet(options).dispose()
  } catch (error) {
    expect(error).toBeInstanceOf(VggError)
    return error as VggError
  }
  throw new Error(`createVggUnet(${JSON.stringify(options)}) did not throw`)
}

describe('createVggUnet', () => {
  it('builds the VGG-16 encoder with Keras names and shapes, skips from each block and a mirrored decoder', () => {
    const model = createVggUnet({ inputShape: [64, 96, 1], decoderFilters: [4, 8, 16, 32, 32] })
    for (const name of VGG16_CONV_LAYERS) {
      const [kernel, bias] = model.getLayer(name).weights
      expect(kernel?.shape, name).toEqual(vggKernelShape(name))
      expect(bias?.shape, name).toEqual([vggKernelShape(name)[3]])
    }
    expect(inputsOf(model, 'block1_conv1')).toEqual(['vgg_preprocess'])
    expect(inputsOf(model, 'vgg_preprocess')).toEqual(['vgg_preprocess_b', 'vgg_preprocess_g', 'vgg_preprocess_r'])
    expect(model.getLayer('vgg_preprocess').countParams()).toBe(0)
    expect(inputsOf(model, 'center_conv1')).toEqual(['block5_pool'])
    const lastConv = ['block1_conv2', 'block2_conv2', 'block3_conv3', 'block4_conv3', 'block5_conv3']
    for (let level = 1; level <= 5; level++) {
      expect(inputsOf(model, `dec${level}_concat`)).toEqual([`dec${level}_up`, lastConv[level - 1]])
      const [, height, width, channels] = model.getLayer(`dec${level}_relu2`).outputShape as number[]
      expect([height, width, channels]).toEqual([64 / 2 ** (level - 1), 96 / 2 ** (level - 1), [4, 8, 16, 32, 32][level - 1]])
    }
    expect(inputsOf(model, 'dec5_up')).toEqual(['center_relu2'])
    expect(model.getLayer('dec1_bn1').getConfig().momentum).toBe(0.99)
    expect(model.outputs[0]?.shape).toEqual([null, 64, 96, 1])
    expect(model.getLayer('output').getConfig().activation).toBe('sigmoid')
    model.dispose()
  })

  it('predicts probabilities of the input size', () => {
    const model = createVggUnet({ inputShape: [32, 32, 1], decoderFilters: tiny })
    const values = tf.tidy(() => {
      const y = model.predict(tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 1)) as tf.Tensor
      expect(y.shape).toEqual([2, 32, 32, 1])
      return y.dataSync()
    })
    expect(values.every((v) => v >= 0 && v <= 1)).toBe(true)
    model.dispose()
  })

  it('applies the caffe preprocessing inside the model, the same as vggPreprocess', () => {
    for (const channels of [1, 3] as const) {
      const model = createVggUnet({ inputShape: [32, 32, channels], decoderFilters: tiny })
      const stem = tfl.model({ inputs: model.inputs, outputs: model.getLayer('vgg_preprocess').output as tfl.SymbolicTensor })
      tf.tidy(() => {
        const x = tf.randomUniform([1, 32, 32, channels], 0, 1, 'float32', 3)
        const inside = stem.predict(x) as tf.Tensor
        const outside = vggPreprocess(x as tf.Tensor4D)
        // by hand: 0–255, RGB → BGR (grayscale → three equal channels), ImageNet means subtracted
        const rgb = channels === 1 ? tf.tile(x, [1, 1, 1, 3]) : x
        const expected = tf.sub(tf.mul(tf.reverse(rgb, 3), 255), tf.tensor1d([...IMAGENET_BGR_MEANS]))
        expect(tf.max(tf.abs(tf.sub(inside, expected))).dataSync()[0]).toBeLessThan(1e-3)
        expect(tf.max(tf.abs(tf.sub(outside, expected))).dataSync()[0]).toBeLessThan(1e-3)
      })
      expect(model.getLayer('vgg_preprocess').trainable).toBe(false)
      model.dispose()
    }
  })

  it("without caffe preprocessing repeats grayscale to three channels, and adds nothing for 3 channels", () => {
    const gray = createVggUnet({ inputShape: [32, 32, 1], decoderFilters: tiny, preprocess: 'none' })
    const stem = tfl.model({ inputs: gray.inputs, outputs: gray.getLayer('vgg_preprocess').output as tfl.SymbolicTensor })
    tf.tidy(() => {
      const x = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 4)
      const diff = tf.max(tf.abs(tf.sub(stem.predict(x) as tf.Tensor, tf.tile(x, [1, 1, 1, 3]))))
      expect(diff.dataSync()[0]).toBeLessThan(1e-6)
    })
    gray.dispose()
    const rgb = createVggUnet({ inputShape: [32, 32, 3], decoderFilters: tiny, preprocess: 'none' })
    expect(rgb.layers.map((layer) => layer.name)).not.toContain('vgg_preprocess')
    expect(inputsOf(rgb, 'block1_conv1')).toEqual(['input'])
    rgb.dispose()
  })

  it('follows the decoder options: bilinear up-sampling, no batch norm, dropout, classes, logits', () => {
    const model = createVggUnet({
      inputShape: [32, 32, 1],
      decoderFilters: tiny,
      upsampling: 'bilinear',
      batchNormMomentum: null,
      dropout: 0.25,
      classes: 3,
      outputActivation: 'linear',
    })
    const names = model.layers.map((layer) => layer.name)
    expect(names.some((name) => name.includes('_bn'))).toBe(false)
    expect(model.getLayer('dec3_up').getClassName()).toBe('UpSampling2D')
    expect(model.getLayer('dec3_up').getConfig().interpolation).toBe('bilinear')
    expect(model.getLayer('dec3_conv1').getConfig().use_bias ?? model.getLayer('dec3_conv1').getConfig().useBias).toBe(true)
    expect(model.getLayer('dec2_drop').getConfig().rate).toBe(0.25)
    expect(model.getLayer('dec5_drop').getConfig().rate).toBe(0.25)
    expect(model.outputs[0]?.shape).toEqual([null, 32, 32, 3])
    expect(model.getLayer('output').getConfig().activation).toBe('linear')
    model.dispose()
    const momentum = createVggUnet({ inputShape: [32, 32, 1], decoderFilters: tiny, batchNormMomentum: 0.9, dropout: [0, 0, 0.1, 0, 0.3] })
    expect(momentum.getLayer('dec3_drop').getConfig().rate).toBe(0.1)
    expect(momentum.getLayer('dec5_drop').getConfig().rate).toBe(0.3)
    expect(momentum.layers.map((layer) => layer.name)).not.toContain('dec1_drop')
    expect(momentum.getLayer('dec4_bn2').getConfig().momentum).toBe(0.9)
    expect(momentum.getLayer('dec4_up').getClassName()).toBe('Conv2DTranspose')
    momentum.dispose()
  })

  it('round-trips through the tfjs layers format with its preprocessing and freeze point', async () => {
    const model = createVggUnet({ inputShape: [32, 32, 1], decoderFilters: tiny, freezeUpTo: 'block2_conv1' })
    let saved: tf.io.ModelArtifacts | undefined
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
      }),
    )
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts))
    expect(loaded.layers.map((layer) => [layer.name, layer.trainable])).toEqual(model.layers.map((layer) => [layer.name, layer.trainable]))
    tf.tidy(() => {
      const x = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 5)
      const diff = tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor)))
      expect(diff.dataSync()[0]).toBe(0)
    })
    model.dispose()
    loaded.dispose()
  })

  it('rejects options that do not fit VGG-16, saying what to do', () => {
    const size = thrown({ inputShape: [101, 101, 1] })
    expect(size.code).toBe('INVALID_OPTION')
    expect(size.message).toMatch(/multiples of 32.*101 → 128/)
    const channels = thrown({ inputShape: [32, 32, 2] })
    expect(channels.code).toBe('INVALID_OPTION')
    expect(channels.message).toContain('2 channels')
    expect(thrown({ decoderFilters: [1, 2, 3] as unknown as VggUnetOptions['decoderFilters'] }).message).toContain('decoderFilters')
    expect(thrown({ batchNormMomentum: 1 }).message).toContain('batchNormMomentum')
    expect(thrown({ dropout: 1 }).message).toContain('dropout')
    expect(thrown({ dropout: [0.1, 0.2] }).message).toContain('five of them')
    expect(thrown({ upsampling: 'nearest' as 'bilinear' }).message).toContain('upsampling')
    expect(thrown({ inputScale: 0 }).message).toContain('inputScale')
    expect(thrown({ preprocess: 'torch' as 'none' }).message).toContain('preprocess')
    const freeze = thrown({ freezeUpTo: 'block6_conv1' })
    expect(freeze.code).toBe('UNKNOWN_LAYER')
    expect(freeze.message).toContain("'block6_conv1' is not a VGG-16 encoder layer")
  })
})

describe('vggEncoder', () => {
  it("is the encoder of createVggUnet for @unet/layers' createUnet: same layers, same seeded weights, its freeze points", () => {
    const viaLayers = createUnet({ encoder: vggEncoder(), inputShape: [32, 32, 3], decoderFilters: tiny, freezeUpTo: 'block2', seed: 9 })
    const viaVgg = createVggUnet({ inputShape: [32, 32, 3], decoderFilters: tiny, freezeUpTo: 'block2', seed: 9 })
    expect(viaLayers.name).toBe('vgg16_unet')
    expect(viaLayers.layers.map((l) => [l.name, l.trainable])).toEqual(viaVgg.layers.map((l) => [l.name, l.trainable]))
    expect(viaLayers.getLayer('block2_conv2').trainable).toBe(false)
    expect(viaLayers.getLayer('block3_conv1').trainable).toBe(true)
    // a sample of kernels across encoder and decoder: the same seed draws the same values in both builds
    const values = (m: tfl.LayersModel) =>
      ['block1_conv1', 'block4_conv2', 'center_conv1', 'dec2_up', 'output'].map((name) => Array.from(m.getLayer(name).getWeights()[0]!.dataSync().slice(0, 64)))
    expect(values(viaLayers)).toEqual(values(viaVgg))
    viaLayers.dispose()
    viaVgg.dispose()
  })
})

describe('vggPreprocess', () => {
  it('takes 0–255 input with inputScale 1 and rejects other channel counts', () => {
    tf.tidy(() => {
      const y = vggPreprocess(tf.fill([1, 1, 1, 3], 200) as tf.Tensor4D, { inputScale: 1 })
      const values = Array.from(y.dataSync())
      IMAGENET_BGR_MEANS.forEach((mean, i) => expect(values[i]).toBeCloseTo(200 - mean, 3))
      expect(() => vggPreprocess(tf.zeros([1, 2, 2, 2]) as tf.Tensor4D)).toThrow(/\[1, 2, 2, 2\]/)
    })
  })
})
