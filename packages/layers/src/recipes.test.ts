import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { scseBlock } from './attention'
import { UnetOptionError } from './errors'
import { outputsByName, zeroEmptyMasks } from './heads'
import { resolveUnetOptions } from './options'
import { createUnet } from './unet'

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

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v))
const small = { depth: 2, filters: 4, inputShape: [16, 16, 1] as [number, number, number], seed: 5 }

async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    }),
  )
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts!))
}

describe('scSE decoder attention', () => {
  it('computes x·cSE(x) + x·sSE(x), as a hand computation on a tiny tensor', () => {
    // 1×2×1 image with 2 channels, reduction 2 → 1 hidden unit
    const input = tfl.input({ shape: [2, 1, 2] })
    const model = tfl.model({ inputs: input, outputs: scseBlock(input, { name: 'a', reduction: 2 }) })
    try {
      const w1 = [0.5, -1] // reduce: 2 → 1
      const b1 = 0.2
      const w2 = [1.5, -0.7] // expand: 1 → 2
      const b2 = [0.1, 0.3]
      const ws = [0.8, -0.4] // spatial: 2 → 1
      const bs = -0.1
      const set = (name: string, values: Array<[number[], number[]]>) => {
        const tensors = values.map(([v, shape]) => tf.tensor(v, shape))
        model.getLayer(name).setWeights(tensors) // copies
        tf.dispose(tensors)
      }
      set('a_cse_reduce', [[w1, [1, 1, 2, 1]], [[b1], [1]]])
      set('a_cse_expand', [[w2, [1, 1, 1, 2]], [b2, [2]]])
      set('a_sse_conv', [[ws, [1, 1, 2, 1]], [[bs], [1]]])
      const pixels = [
        [1, 2],
        [3, -1],
      ]
      const mean = [(1 + 3) / 2, (2 - 1) / 2]
      const hidden = Math.max(0, w1[0]! * mean[0]! + w1[1]! * mean[1]! + b1)
      const cse = [0, 1].map((c) => sigmoid(w2[c]! * hidden + b2[c]!))
      const expected = pixels.flatMap((px) => {
        const sse = sigmoid(ws[0]! * px[0]! + ws[1]! * px[1]! + bs)
        return px.map((v, c) => v * cse[c]! + v * sse)
      })
      const y = tf.tidy(() => Array.from((model.predict(tf.tensor(pixels.flat(), [1, 2, 1, 2])) as tf.Tensor).dataSync()))
      expect(y).toHaveLength(4)
      y.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6))
    } finally {
      model.dispose()
    }
  })

  it('adds one block after each decoder stage, with the expected shapes and parameter counts', () => {
    const plain = createUnet({ ...small, filters: 32, inputShape: [8, 8, 1], depth: 1 })
    const scse = createUnet({ ...small, filters: 32, inputShape: [8, 8, 1], depth: 1, decoderAttention: 'scse' })
    try {
      const names = scse.layers.map((l) => l.name)
      expect(names).toEqual(expect.arrayContaining(['dec1_cse_pool', 'dec1_cse_reduce', 'dec1_cse_expand', 'dec1_sse_conv', 'dec1_scse']))
      expect(scse.getLayer('dec1_scse').outputShape).toEqual([null, 8, 8, 32])
      // 32 channels, reduction 2 → 16 hidden: reduce 32·16+16, expand 16·32+32, spatial 32+1
      expect(scse.countParams() - plain.countParams()).toBe(528 + 544 + 33)
      expect(scse.getLayer('dec1_cse_reduce').getWeights()[0]!.shape).toEqual([1, 1, 32, 16])
      // the output layer reads the attention's result
      expect(scse.getLayer('output').inboundNodes[0]!.inboundLayers[0]!.name).toBe('dec1_scse')
    } finally {
      plain.dispose()
      scse.dispose()
    }
    const deep = createUnet({ ...small, decoderAttention: 'scse' })
    try {
      expect(deep.getLayer('dec2_scse').outputShape).toEqual([null, 8, 8, 8])
      expect(deep.getLayer('dec1_conv1').inboundNodes[0]!.inboundLayers.map((l) => l.name)).toContain('dec1_concat')
      expect(deep.getLayer('dec1_up').inboundNodes[0]!.inboundLayers[0]!.name).toBe('dec2_scse')
    } finally {
      deep.dispose()
    }
  })

  it('refuses an unknown attention, naming the choices', () => {
    expect(() => resolveUnetOptions({ decoderAttention: 'cbam' as never })).toThrow(/"decoderAttention" is "cbam"; it must be 'none' or 'scse'/)
    expect(() => scseBlock(tfl.input({ shape: [4, 4, 2] }), { name: 'x', reduction: 0 })).toThrow(UnetOptionError)
  })
})

describe('hypercolumns', () => {
  it('concatenates every decoder stage, up-sampled to full resolution, before the output', () => {
    const model = createUnet({ ...small, depth: 3, inputShape: [16, 16, 1], hypercolumn: true })
    try {
      expect(model.outputs[0]!.shape).toEqual([null, 16, 16, 1])
      expect(model.getLayer('hypercolumn').outputShape).toEqual([null, 16, 16, 4 + 8 + 16])
      expect(model.getLayer('hypercolumn').inboundNodes[0]!.inboundLayers.map((l) => l.name)).toEqual(['dec1_relu2', 'dec2_hyper_up', 'dec3_hyper_up'])
      expect(model.getLayer('dec3_hyper_up').inboundNodes[0]!.inboundLayers[0]!.name).toBe('dec3_relu2')
      expect(model.getLayer('output').getWeights()[0]!.shape).toEqual([1, 1, 28, 1])
    } finally {
      model.dispose()
    }
  })

  it('lets each stage feed the head: silencing one stage’s channels of the head changes the output', () => {
    const model = createUnet({ ...small, depth: 3, hypercolumn: true, decoderAttention: 'scse' })
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 3)
    const head = model.getLayer('output')
    const [kernel, bias] = head.getWeights().map((w) => w.clone())
    try {
      const before = tf.tidy(() => model.predict(x) as tf.Tensor)
      const blocks: Array<[number, number]> = [[0, 4], [4, 12], [12, 28]] // dec1, dec2, dec3 channels
      for (const [from, to] of blocks) {
        const silenced = tf.tidy(() => {
          const keep = tf.reshape(tf.concat([tf.ones([from]), tf.zeros([to - from]), tf.ones([28 - to])]), [1, 1, 28, 1])
          return tf.mul(kernel!, keep)
        })
        head.setWeights([silenced, bias!])
        silenced.dispose()
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, before))).dataSync()[0]!)
        expect(diff, `channels ${from}–${to}`).toBeGreaterThan(1e-4)
        head.setWeights([kernel!, bias!])
      }
      before.dispose()
    } finally {
      tf.dispose([x, kernel!, bias!])
      model.dispose()
    }
  })
})

describe('deep supervision', () => {
  it('adds a "has mask" classifier on the deepest features and auxiliary heads at full resolution, by name', () => {
    const model = createUnet({ ...small, depth: 3, classes: 2, deepSupervision: true })
    try {
      expect(model.outputNames).toEqual(['output', 'has_mask', 'dec2_aux', 'dec3_aux'])
      expect(model.outputs.map((o) => o.shape)).toEqual([[null, 16, 16, 2], [null, 2], [null, 16, 16, 2], [null, 16, 16, 2]])
      expect(model.getLayer('has_mask_pool').inboundNodes[0]!.inboundLayers[0]!.name).toBe('bottleneck_relu2')
      expect((model.getLayer('has_mask').getConfig() as { activation: string }).activation).toBe('sigmoid')
      expect(model.getLayer('dec3_aux_conv').inboundNodes[0]!.inboundLayers[0]!.name).toBe('dec3_relu2')
      const outputs = tf.tidy(() => model.predict(tf.randomUniform([3, 16, 16, 1])) as tf.Tensor[])
      const named = outputsByName(model, outputs)
      expect(named.has_mask!.shape).toEqual([3, 2])
      expect(named.dec3_aux!.shape).toEqual([3, 16, 16, 2])
      expect(() => outputsByName(model, outputs.slice(1))).toThrow(/has 4 outputs \(output, has_mask, dec2_aux, dec3_aux\) but 3/)
      tf.dispose(outputs)
    } finally {
      model.dispose()
    }
  })

  it('zeroEmptyMasks zeroes exactly the masks the classifier calls empty, per class', () => {
    const masks = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 1, 2])
    const hasMask = tf.tensor2d([0.9, 0.2, 0.5, 0.49], [2, 2])
    const cleaned = zeroEmptyMasks(masks, hasMask)
    expect(Array.from(cleaned.dataSync())).toEqual([1, 0, 3, 0, 5, 0, 7, 0])
    const strict = zeroEmptyMasks(masks, hasMask, 0.95)
    expect(Array.from(strict.dataSync())).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
    const wrong = tf.tensor1d([1])
    expect(() => zeroEmptyMasks(masks, wrong)).toThrow(/need classifier probabilities of shape \[2, 2\]/)
    expect(() => zeroEmptyMasks(masks, hasMask, 2)).toThrow(/"threshold" is 2/)
    tf.dispose([masks, hasMask, cleaned, strict, wrong])
  })
})

describe('with the recipes off', () => {
  it('builds today’s model: same layer names, weights and seeds as without the options', () => {
    const today = createUnet(small)
    const off = createUnet({ ...small, decoderAttention: 'none', hypercolumn: false, deepSupervision: false })
    try {
      expect(off.layers.map((l) => l.name)).toEqual([
        'image', 'enc1_conv1', 'enc1_bn1', 'enc1_relu1', 'enc1_conv2', 'enc1_bn2', 'enc1_relu2', 'enc1_pool',
        'enc2_conv1', 'enc2_bn1', 'enc2_relu1', 'enc2_conv2', 'enc2_bn2', 'enc2_relu2', 'enc2_pool',
        'bottleneck_conv1', 'bottleneck_bn1', 'bottleneck_relu1', 'bottleneck_conv2', 'bottleneck_bn2', 'bottleneck_relu2',
        'dec2_up', 'dec2_concat', 'dec2_conv1', 'dec2_bn1', 'dec2_relu1', 'dec2_conv2', 'dec2_bn2', 'dec2_relu2',
        'dec1_up', 'dec1_concat', 'dec1_conv1', 'dec1_bn1', 'dec1_relu1', 'dec1_conv2', 'dec1_bn2', 'dec1_relu2', 'output',
      ])
      expect(today.layers.map((l) => l.name)).toEqual(off.layers.map((l) => l.name))
      expect(off.outputNames).toEqual(['output'])
      expect(off.countParams()).toBe(today.countParams())
      const values = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()))
      expect(values(off)).toEqual(values(today))
    } finally {
      today.dispose()
      off.dispose()
    }
  })
})

describe('saved with every recipe on', () => {
  it('is plain tfjs layers: it saves, loads with no custom objects and predicts the same', async () => {
    const model = createUnet({ ...small, depth: 3, decoderAttention: 'scse', hypercolumn: true, deepSupervision: true, upsampling: 'bilinear' })
    const loaded = await roundTrip(model)
    try {
      expect(loaded.outputNames).toEqual(model.outputNames)
      expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name))
      const diffs = tf.tidy(() => {
        const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 9)
        const a = model.predict(x) as tf.Tensor[]
        const b = loaded.predict(x) as tf.Tensor[]
        return a.map((t, i) => tf.max(tf.abs(tf.sub(t, b[i]!))).dataSync()[0]!)
      })
      expect(diffs).toEqual([0, 0, 0, 0])
    } finally {
      model.dispose()
      loaded.dispose()
    }
  })
})
