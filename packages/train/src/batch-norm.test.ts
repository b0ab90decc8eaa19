import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'
import { recalibrateBatchNorm } from './batch-norm'
import type { Batch } from './data'

const batch = (...values: number[]): Batch => ({ x: new Float32Array(values), y: new Float32Array(0), count: values.length })

describe('recalibrateBatchNorm', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('sets the moving statistics to the mean of the whole batches’ statistics and restores the momentum', async () => {
    const input = tfl.input({ shape: [1, 1, 1] })
    const bn = tfl.layers.batchNormalization({ momentum: 0.9 })
    const model = tfl.model({ inputs: input, outputs: bn.apply(input) as tfl.SymbolicTensor })
    const before = tf.memory().numTensors
    // batches [7, 1] and [2, 4], then a partial batch [100] that must be left out
    expect(await recalibrateBatchNorm(model, [batch(7, 1), batch(2, 4), batch(100)], [1, 1, 1])).toBe(1)
    expect(tf.memory().numTensors).toBe(before)
    const [, , movingMean, movingVariance] = bn.getWeights().map((w) => w.dataSync()[0] as number)
    // batch means 4 and 3, batch variances 9 and 1
    expect(movingMean).toBeCloseTo(3.5, 5)
    expect(movingVariance).toBeCloseTo(5, 5)
    expect((bn as unknown as { momentum: number }).momentum).toBe(0.9)
    model.dispose()
  })

  it('leaves a model without batch norm alone', async () => {
    const input = tfl.input({ shape: [1, 1, 1] })
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 1 }).apply(input) as tfl.SymbolicTensor })
    expect(await recalibrateBatchNorm(model, [batch(1, 2)], [1, 1, 1])).toBe(0)
    model.dispose()
  })
})
