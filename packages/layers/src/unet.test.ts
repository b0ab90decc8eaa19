import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createUnet, unetFilters } from './unet'
import { UnetOptionError } from './errors'
import { frozenByStage, type Encoder } from './encoder'

let tensorsBefore = 0
beforeAll(async () => {
  await tf.setBackend('cpu')
})
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors
})
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore)
})

function layerNames(model: tfl.LayersModel): string[] {
  return model.layers.map((l) => l.name)
}

function classNames(model: tfl.LayersModel): string[] {
  return model.layers.map((l) => l.getClassName())
}

describe('createUnet', () => {
  it('builds the default 4-level, 16-filter U-Net for 128×128×1 images with readable layer names', () => {
    const model = createUnet()
    try {
      expect(model.inputs[0]!.shape).toEqual([null, 128, 128, 1])
      expect(model.outputs[0]!.shape).toEqual([null, 128, 128, 1])
      const names = layerNames(model)
      for (const name of ['enc1_conv1', 'enc1_bn1', 'enc1_relu1', 'enc1_conv2', 'enc1_pool', 'enc4_pool', 'bottleneck_conv2', 'dec4_up', 'dec4_concat', 'dec1_up', 'dec1_relu2', 'output']) {
        expect(names).toContain(name)
      }
      expect(names).not.toContain('enc5_conv1')
      expect(classNames(model).filter((c) => c === 'MaxPooling2D')).toHaveLength(4)
      expect(classNames(model).filter((c) => c === 'Conv2DTranspose')).toHaveLength(4)
      expect(classNames(model).filter((c) => c === 'Dropout')).toHaveLength(0)
      const kernel = (name: string) => model.getLayer(name).getWeights()[0]!.shape
      expect(kernel('enc1_conv1')).toEqual([3, 3, 1, 16])
      expect(kernel('enc4_conv1')).toEqual([3, 3, 64, 128])
      expect(kernel('bottleneck_conv1')).toEqual([3, 3, 128, 256])
      expect(kernel('dec4_up')).toEqual([2, 2, 128, 256])
      expect(kernel('dec1_conv1')).toEqual([3, 3, 32, 16])
      expect(kernel('output')).toEqual([1, 1, 16, 1])
      // hand count: per level 9·cin·f + 9·f·f kernels + 2×4f batch-norm; decoders add a 2×2 transpose (+bias); output 16+1
      const enc = [2_576, 14_080, 55_808, 222_208]
      const bottleneck = 886_784
      const dec = [9_104, 36_128, 143_936, 574_592]
      expect(model.countParams()).toBe([...enc, bottleneck, ...dec, 17].reduce((a, b) => a + b))
    } finally {
      model.dispose()
    }
  })

  it('scales with depth, filters and filterScaling', () => {
    expect(unetFilters({ depth: 2, filters: 8, filterScaling: 1.5 })).toEqual([8, 12, 18])
    const model = createUnet({ depth: 2, filters: 8, filterScaling: 1.5, inputShape: [16, 16, 1] })
    try {
      expect(classNames(model).filter((c) => c === 'MaxPooling2D')).toHaveLength(2)
      expect(model.getLayer('enc2_conv1').getWeights()[0]!.shape).toEqual([3, 3, 8, 12])
      expect(model.getLayer('bottleneck_conv1').getWeights()[0]!.shape).toEqual([3, 3, 12, 18])
      expect(() => model.getLayer('enc3_conv1')).toThrow()
    } finally {
      model.dispose()
    }
  })

  it('uses the batch-norm momentum given, and biased convolutions without batch norm', () => {
    const withBn = createUnet({ depth: 1, filters: 2, inputShape: [8, 8, 1], batchNormMomentum: 0.9 })
    const noBn = createUnet({ depth: 1, filters: 2, inputShape: [8, 8, 1], batchNormMomentum: null })
    try {
      expect((withBn.getLayer('enc1_bn1').getConfig() as { momentum: number }).momentum).toBe(0.9)
      expect(withBn.getLayer('enc1_conv1').getWeights()).toHaveLength(1)
      expect(classNames(noBn)).not.toContain('BatchNormalization')
      expect(noBn.getLayer('enc1_conv1').getWeights()).toHaveLength(2)
    } finally {
      withBn.dispose()
      noBn.dispose()
    }
  })

  it('places dropout after each pooling, each concatenation and the bottleneck, one rate per level', () => {
    const model = createUnet({ depth: 2, filters: 2, inputShape: [8, 8, 1], dropout: [0.1, 0.2, 0.5] })
    try {
      const rate = (name: string) => (model.getLayer(name).getConfig() as { rate: number }).rate
      expect(rate('enc1_drop')).toBe(0.1)
      expect(rate('dec1_drop')).toBe(0.1)
      expect(rate('enc2_drop')).toBe(0.2)
      expect(rate('dec2_drop')).toBe(0.2)
      expect(rate('bottleneck_drop')).toBe(0.5)
    } finally {
      model.dispose()
    }
    const single = createUnet({ depth: 2, filters: 2, inputShape: [8, 8, 1], dropout: 0.3 })
    try {
      const rates = single.layers.filter((l) => l.getClassName() === 'Dropout').map((l) => (l.getConfig() as { rate: number }).rate)
      expect(rates).toEqual([0.3, 0.3, 0.3, 0.3, 0.3])
    } finally {
      single.dispose()
    }
  })

  it('up-samples bilinearly without weights when asked', () => {
    const model = createUnet({ depth: 2, filters: 4, inputShape: [16, 16, 1], upsampling: 'bilinear' })
    try {
      const up = model.getLayer('dec2_up')
      expect(up.getClassName()).toBe('UpSampling2D')
      expect((up.getConfig() as { interpolation: string }).interpolation).toBe('bilinear')
      expect(up.getWeights()).toHaveLength(0)
      // the concatenation then carries the deeper level's 16 channels plus the skip's 8
      expect(model.getLayer('dec2_conv1').getWeights()[0]!.shape).toEqual([3, 3, 24, 8])
    } finally {
      model.dispose()
    }
  })

  it('takes 3-channel, non-square inputs and predicts one channel per class', () => {
    const model = createUnet({ depth: 2, filters: 4, inputShape: [16, 32, 3], classes: 3 })
    try {
      const y = tf.tidy(() => model.predict(tf.randomUniform([2, 16, 32, 3])) as tf.Tensor)
      expect(y.shape).toEqual([2, 16, 32, 3])
      const values = y.dataSync()
      y.dispose()
      expect(Math.min(...values)).toBeGreaterThan(0)
      expect(Math.max(...values)).toBeLessThan(1)
    } finally {
      model.dispose()
    }
  })

  it('outputs logits with outputActivation linear', () => {
    const model = createUnet({ depth: 1, filters: 4, inputShape: [8, 8, 1], outputActivation: 'linear' })
    try {
      const output = model.getLayer('output')
      expect((output.getConfig() as { activation: string }).activation).toBe('linear')
      // A negative output kernel: the ReLU features are ≥ 0, so only an output without a sigmoid can go below 0.
      // (With the random draw, all-positive output weights would make this test flaky.)
      const negative = output.getWeights().map((w, i) => (i === 0 ? tf.fill(w.shape, -1) : tf.zeros(w.shape)))
      output.setWeights(negative)
      tf.dispose(negative)
      const y = tf.tidy(() => model.predict(tf.randomNormal([4, 8, 8, 1], 0, 3)) as tf.Tensor)
      const values = y.dataSync()
      y.dispose()
      expect(values.some((v) => v < 0)).toBe(true)
    } finally {
      model.dispose()
    }
  })

  it('initialises convolution kernels He-normal', () => {
    const model = createUnet({ depth: 2, filters: 32, inputShape: [16, 16, 1] })
    try {
      const config = model.getLayer('enc2_conv2').getConfig() as { kernelInitializer: { className: string; config: Record<string, unknown> } }
      expect(config.kernelInitializer.className).toBe('VarianceScaling')
      expect(config.kernelInitializer.config).toMatchObject({ scale: 2, mode: 'fanIn', distribution: 'normal' })
      // 3×3×64 fan-in → He std sqrt(2/576) ≈ 0.059; tfjs draws a truncated normal of that std
      const kernel = model.getLayer('enc2_conv2').getWeights()[0]!
      const std = tf.tidy(() => tf.sqrt(tf.moments(kernel).variance).dataSync()[0]!)
      expect(std).toBeGreaterThan(0.045)
      expect(std).toBeLessThan(0.07)
    } finally {
      model.dispose()
    }
  })

  it('names the model', () => {
    const model = createUnet({ depth: 1, filters: 2, inputShape: [8, 8, 1], name: 'salt' })
    expect(model.name).toBe('salt')
    model.dispose()
  })

  it('refuses an input not divisible by 2^depth before building anything', () => {
    expect(() => createUnet({ inputShape: [101, 101, 1] })).toThrow(UnetOptionError)
    expect(() => createUnet({ inputShape: [101, 101, 1] })).toThrow(/\[112, 112, 1\]/)
  })

  it('saves to the standard layers format and loads in plain tfjs with the same outputs', async () => {
    const model = createUnet({ depth: 2, filters: 4, inputShape: [16, 16, 1], dropout: 0.2, upsampling: 'bilinear' })
    let artifacts: tf.io.ModelArtifacts | undefined
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
      }),
    )
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!))
    try {
      expect(layerNames(loaded)).toEqual(layerNames(model))
      const diff = tf.tidy(() => {
        const x = tf.randomUniform([2, 16, 16, 1])
        return tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor))).dataSync()[0]!
      })
      expect(diff).toBe(0)
    } finally {
      model.dispose()
      loaded.dispose()
    }
  })

  it('draws the same weights for the same seed and others for another, without touching Math.random', () => {
    const options = { depth: 2, filters: 4, inputShape: [16, 16, 1] as [number, number, number], upsampling: 'transpose' as const }
    const random = Math.random
    let calls = 0
    Math.random = () => {
      calls++
      return random()
    }
    const [a, b, c] = [createUnet({ ...options, seed: 3 }), createUnet({ ...options, seed: 3 }), createUnet({ ...options, seed: 4 })]
    Math.random = random
    try {
      const values = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()))
      expect(values(a)).toEqual(values(b))
      const [va, vc] = [values(a), values(c)]
      // every kernel differs with another seed, and no two layers share a draw
      a.getWeights().forEach((w, i) => {
        if (w.rank === 4) expect(va[i], a.weights[i]!.name).not.toEqual(vc[i])
      })
      expect(va.find((_, i) => a.weights[i]!.name.startsWith('enc1_conv2'))!.slice(0, 4)).not.toEqual(
        va.find((_, i) => a.weights[i]!.name.startsWith('dec1_conv2'))!.slice(0, 4),
      )
      expect(calls).toBe(0)
    } finally {
      for (const m of [a, b, c]) m.dispose()
    }
  })

  it('freezes the plain encoder up to a stage or layer, leaving the decoder trainable', () => {
    const model = createUnet({ depth: 3, filters: 2, inputShape: [16, 16, 1], freezeUpTo: 'enc2' })
    try {
      const frozen = model.layers.filter((l) => !l.trainable).map((l) => l.name)
      expect(frozen).toEqual(expect.arrayContaining(['enc1_conv1', 'enc1_bn2', 'enc2_conv2', 'enc2_pool']))
      expect(frozen.some((n) => n.startsWith('enc3') || n.startsWith('dec') || n.startsWith('bottleneck'))).toBe(false)
      expect(model.trainableWeights.some((w) => w.name.startsWith('enc2'))).toBe(false)
      expect(model.trainableWeights.some((w) => w.name.startsWith('enc3_conv1'))).toBe(true)
    } finally {
      model.dispose()
    }
    const byNumber = createUnet({ depth: 2, filters: 2, inputShape: [8, 8, 1], freezeUpTo: 1 })
    expect(byNumber.getLayer('enc1_conv2').trainable).toBe(false)
    expect(byNumber.getLayer('enc2_conv1').trainable).toBe(true)
    byNumber.dispose()
    const error = (() => {
      try {
        createUnet({ depth: 2, filters: 2, inputShape: [8, 8, 1], freezeUpTo: 'enc7' })
      } catch (e) {
        return e as UnetOptionError
      }
    })()
    expect(error).toBeInstanceOf(UnetOptionError)
    expect(error!.option).toBe('freezeUpTo')
    expect(error!.message).toContain('enc1, enc2, bottleneck')
  })

  it('builds one decoder over any encoder: a skip per stride it has, a centre block when asked, none below its first', () => {
    // a toy encoder with features at strides 2 and 4 only (like a ResNet, which has none at stride 1)
    const toy: Encoder = {
      name: 'toy',
      depth: 2,
      inputChannels: [3],
      decoderFilters: [3, 5],
      center: true,
      stages: ['down1', 'down2'],
      build(input, { nextSeed }) {
        const a = tfl.layers.conv2d({ filters: 6, kernelSize: 2, strides: 2, name: 'down1', kernelInitializer: tfl.initializers.heNormal({ seed: nextSeed() }) }).apply(input) as tfl.SymbolicTensor
        const b = tfl.layers.conv2d({ filters: 7, kernelSize: 2, strides: 2, name: 'down2' }).apply(a) as tfl.SymbolicTensor
        return [
          { tensor: a, stride: 2, channels: 6 },
          { tensor: b, stride: 4, channels: 7 },
        ]
      },
      frozenLayers(model, freezeUpTo) {
        return frozenByStage(model, freezeUpTo, [['down1', 'down1'], ['down2', 'down2']], 'toy')
      },
    }
    const model = createUnet({ encoder: toy, inputShape: [8, 12, 3], freezeUpTo: 'down1', seed: 1 })
    try {
      expect(model.name).toBe('toy_unet')
      const names = layerNames(model)
      expect(names).toContain('center_conv1')
      expect(model.getLayer('center_conv1').getWeights()[0]!.shape).toEqual([3, 3, 7, 5])
      expect(names).toContain('dec2_concat')
      expect(model.getLayer('dec2_conv1').getWeights()[0]!.shape).toEqual([3, 3, 5 + 6, 5])
      expect(names).not.toContain('dec1_concat')
      expect(model.getLayer('dec1_conv1').getWeights()[0]!.shape).toEqual([3, 3, 3, 3])
      expect(model.outputs[0]!.shape).toEqual([null, 8, 12, 1])
      expect(model.getLayer('down1').trainable).toBe(false)
      expect(model.getLayer('down2').trainable).toBe(true)
    } finally {
      model.dispose()
    }
    expect(() => createUnet({ encoder: toy, inputShape: [8, 10, 3] })).toThrow(/width 10 is not divisible by 2\^2 = 4/)
    expect(() => createUnet({ encoder: toy, inputShape: [8, 8, 1] })).toThrow(/3 channels for the toy encoder/)
    expect(() => createUnet({ encoder: toy, depth: 3 })).toThrow(/"depth" shapes the plain encoder/)
    expect(() => createUnet({ encoder: toy, inputShape: [8, 8, 3], dropout: [0.1, 0.1, 0.1] })).toThrow(/2 rates \(one per decoder stage/)
  })
})
