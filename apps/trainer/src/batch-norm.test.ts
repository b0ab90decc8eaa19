import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'
import { recalibrateBatchNorm } from './batch-norm'
import type { PreparedSet } from './data'

describe('recalibrateBatchNorm', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('sets the moving statistics to the mean of the whole batches’ statistics and restores the momentum', () => {
    const input = tfl.input({ shape: [1, 1, 1] })
    const bn = tfl.layers.batchNormalization({ momentum: 0.9 })
    const model = tfl.model({ inputs: input, outputs: bn.apply(input) as tfl.SymbolicTensor })
    // 5 one-pixel images; batches of 2 visit [4, 0] and [1, 3] and leave image 2 out (a partial batch)
    const images = new Float32Array([1, 2, 100, 4, 7])
    const set = { count: 5, size: 1, channels: 1, images } as unknown as PreparedSet
    const before = tf.memory().numTensors
    expect(recalibrateBatchNorm(model, set, [4, 0, 1, 3, 2], 2)).toBe(1)
    expect(tf.memory().numTensors).toBe(before)
    const [, , movingMean, movingVariance] = bn.getWeights().map((w) => w.dataSync()[0] as number)
    // batch means 4 and 3, batch variances 9 and 1
    expect(movingMean).toBeCloseTo(3.5, 5)
    expect(movingVariance).toBeCloseTo(5, 5)
    expect((bn as unknown as { momentum: number }).momentum).toBe(0.9)
    model.dispose()
  })

  it('leaves a model without batch norm alone', () => {
    const input = tfl.input({ shape: [1, 1, 1] })
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 1 }).apply(input) as tfl.SymbolicTensor })
    const set = { count: 2, size: 1, channels: 1, images: new Float32Array([1, 2]) } as unknown as PreparedSet
    expect(recalibrateBatchNorm(model, set, [0, 1], 2)).toBe(0)
    model.dispose()
  })
})
