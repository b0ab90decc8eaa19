import * as tf from '@tensorflow/tfjs-core'
import { initBackend } from '@unet/runtime'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'
import { VGG16_ENCODER_LAYERS } from './architecture'
import { createVggUnet } from './create-vgg-unet'
import { VggError } from './errors'
import { freezeVggEncoder, frozenLayerNames } from './freeze'

beforeAll(async () => {
  // the wasm backend with @unet/runtime's training kernels: VGG-16's gradients take minutes on the cpu backend
  await initBackend({ backend: 'wasm' })
})

/** Every weight of the model by variable name, copied. */
function snapshot(model: tfl.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [w.name, Float32Array.from(w.read().dataSync())]))
}
const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)

describe('frozenLayerNames', () => {
  it('reads layer names, block numbers and "none"', () => {
    expect(frozenLayerNames(undefined)).toEqual([])
    expect(frozenLayerNames(null)).toEqual([])
    expect(frozenLayerNames('none')).toEqual([])
    expect(frozenLayerNames(0)).toEqual([])
    expect(frozenLayerNames(1)).toEqual(['block1_conv1', 'block1_conv2', 'block1_pool'])
    expect(frozenLayerNames('2')).toEqual(frozenLayerNames('block2'))
    expect(frozenLayerNames('block2')).toEqual(frozenLayerNames('block2_pool'))
    expect(frozenLayerNames('block2_conv1')).toEqual(['block1_conv1', 'block1_conv2', 'block1_pool', 'block2_conv1'])
    expect(frozenLayerNames(5)).toEqual([...VGG16_ENCODER_LAYERS])
  })

  it('rejects anything else and lists what is valid', () => {
    for (const bad of ['block6_conv1', 'dec1_conv1', 6, 'block3_conv4', '']) {
      const error = (() => {
        try {
          frozenLayerNames(bad)
        } catch (e) {
          return e
        }
      })()
      expect(error, String(bad)).toBeInstanceOf(VggError)
      expect((error as VggError).code).toBe('UNKNOWN_LAYER')
      expect((error as VggError).message).toContain('block1_conv1, block1_conv2, block1_pool')
    }
  })
})

describe('freezing', () => {
  it('keeps frozen weights bit-identical through training steps while the others change', async () => {
    const start = tf.memory().numTensors
    // No batch norm: at batch 1 the centre (1×1 pixels) would normalise to zero and its kernel get no gradient.
    const model = createVggUnet({
      inputShape: [32, 32, 1],
      // wide enough deep in the decoder that ReLUs at 1×1 and 2×2 pixels cannot all be dead (no gradient)
      decoderFilters: [4, 4, 8, 16, 32],
      batchNormMomentum: null,
      freezeUpTo: 'block3_conv2',
    })
    const frozen = new Set<string>(VGG16_ENCODER_LAYERS.slice(0, VGG16_ENCODER_LAYERS.indexOf('block3_conv2') + 1))
    for (const name of VGG16_ENCODER_LAYERS) expect(model.getLayer(name).trainable, name).toBe(!frozen.has(name))
    expect(model.getLayer('vgg_preprocess').trainable).toBe(false)

    // Adam moves every weight with a non-zero gradient by about the learning rate, however small the gradient
    const optimizer = tf.train.adam(1e-3)
    model.compile({ optimizer, loss: 'binaryCrossentropy' })
    const before = snapshot(model)
    const xs = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 7)
    const ys = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 8), 0.5), 'float32'))
    await model.fit(xs, ys, { epochs: 2, batchSize: 1, verbose: 0 })
    const after = snapshot(model)

    const trainable = new Set(model.trainableWeights.map((w) => w.name))
    for (const [name, values] of before) {
      const layer = name.split('/')[0] as string
      const unchanged = bits(values).equals(bits(after.get(name) as Float32Array))
      if (frozen.has(layer) || layer === 'vgg_preprocess') {
        expect(unchanged, `${name} is frozen`).toBe(true)
        expect(trainable.has(name)).toBe(false)
      } else if (trainable.has(name)) {
        expect(unchanged, `${name} trains`).toBe(false)
      }
    }
    // the unfrozen convolution and the decoder learn
    expect(trainable.has('block3_conv3/kernel')).toBe(true)
    expect(trainable.has('dec1_conv1/kernel')).toBe(true)
    tf.dispose([xs, ys])
    optimizer.dispose()
    model.dispose()
    expect(tf.memory().numTensors).toBe(start)
  })

  it('moves the freeze point of a built model', () => {
    const model = createVggUnet({ inputShape: [32, 32, 3], decoderFilters: [2, 2, 2, 2, 2], freezeUpTo: 5 })
    const encoderWeights = 26
    const all = model.trainableWeights.length
    expect(freezeVggEncoder(model, 0)).toEqual([])
    expect(model.trainableWeights.length).toBe(all + encoderWeights)
    expect(freezeVggEncoder(model, 'block1')).toEqual(['block1_conv1', 'block1_conv2', 'block1_pool'])
    expect(model.trainableWeights.length).toBe(all + encoderWeights - 4)
    model.dispose()
  })

  it('refuses a model without the VGG-16 layers', () => {
    const other = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1], name: 'block1_conv1' })] })
    expect(() => freezeVggEncoder(other, 1)).toThrow(/has no layer block1_conv2, block1_pool, block2_conv1 \(and 14 more\)/)
    other.dispose()
  })
})
