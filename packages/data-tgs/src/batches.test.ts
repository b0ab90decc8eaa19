import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'
import { type Augmentation, horizontalFlip } from '@unet/data'
import { createBatches, toInputTensor } from './batches'
import { toModelSize } from './resize'
import { generateSyntheticTgs } from './synthetic'

const { train, test } = generateSyntheticTgs({ trainCount: 37, testCount: 3, seed: 4 })

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('createBatches', () => {
  it('yields NHWC tensors at the model size holding every sample once per epoch, and leaks nothing', async () => {
    const before = tf.memory().numTensors
    const batches = createBatches(train, { batchSize: 8, size: 128, mode: 'pad', seed: 1 })
    expect(batches.batchesPerEpoch).toBe(5)
    const seen: number[] = []
    const sizes: number[] = []
    const padded = train.map((s) => toModelSize(s.image, s, { mode: 'pad' }))
    for await (const { xs, ys } of batches) {
      expect(xs.shape.slice(1)).toEqual([128, 128, 1])
      expect(ys.shape).toEqual([xs.shape[0], 128, 128, 1])
      sizes.push(xs.shape[0])
      const x = xs.dataSync()
      const y = ys.dataSync()
      // Identify each sample by its padded image; its mask must be the one of the same sample.
      for (let b = 0; b < xs.shape[0]; b++) {
        const first = x.subarray(b * 128 * 128, (b + 1) * 128 * 128)
        const k = padded.findIndex((p) => Buffer.from(p.buffer).equals(Buffer.from(first.slice().buffer)))
        expect(k).toBeGreaterThanOrEqual(0)
        const mask = toModelSize(train[k]!.mask, train[k]!, { mode: 'pad', kind: 'mask' })
        const ySample = y.slice(b * 128 * 128, (b + 1) * 128 * 128) as Float32Array
        expect(Buffer.from(ySample.buffer).equals(Buffer.from(Float32Array.from(mask).buffer))).toBe(true)
        seen.push(k)
      }
      xs.dispose()
      ys.dispose()
    }
    expect(sizes).toEqual([8, 8, 8, 8, 5])
    expect(seen.slice().sort((a, b) => a - b)).toEqual(train.map((_, i) => i))
    expect(tf.memory().numTensors).toBe(before)
  })

  it('reshuffles each epoch, reproducibly from the seed', async () => {
    const order = async (seed: number, epochs: number): Promise<number[][]> => {
      const batches = createBatches(train, { batchSize: 37, size: 32, seed })
      const out: number[][] = []
      for (let e = 0; e < epochs; e++) {
        for await (const { xs, ys } of batches) {
          const x = xs.dataSync()
          out.push(Array.from({ length: 37 }, (_, b) => x[b * 32 * 32 + 500]!))
          tf.dispose([xs, ys])
        }
      }
      return out
    }
    const a = await order(3, 2)
    expect(a[0]).not.toEqual(a[1])
    expect(await order(3, 2)).toEqual(a)
    expect((await order(4, 1))[0]).not.toEqual(a[0])
    const unshuffled = createBatches(train, { batchSize: 37, size: 32, shuffle: false })
    for await (const { xs, ys } of unshuffled) {
      expect(xs.dataSync()[500]).toBeCloseTo(toModelSize(train[0]!.image, train[0]!, { size: 32 })[500]!, 6)
      tf.dispose([xs, ys])
    }
  })

  it('adds depth as a constant second channel', async () => {
    const batches = createBatches(train, { batchSize: 4, size: 16, shuffle: false, depthChannel: { min: 0, max: 1000 } })
    expect(batches.channels).toBe(2)
    const it = batches[Symbol.asyncIterator]()
    const { value } = await it.next()
    const { xs, ys } = value!
    expect(xs.shape).toEqual([4, 16, 16, 2])
    const x = xs.dataSync()
    for (let b = 0; b < 4; b++) {
      expect(x[b * 512 + 1]).toBeCloseTo(train[b]!.depth / 1000, 6)
      expect(x[b * 512 + 511]).toBeCloseTo(train[b]!.depth / 1000, 6)
    }
    tf.dispose([xs, ys])
    await it.return?.(undefined)
    expect(() => createBatches([{ ...train[0]!, depth: Number.NaN }], { depthChannel: true })).toThrow(/needs a depth for every sample/)
  })

  it('runs augmentation on image and mask together', async () => {
    const batches = createBatches(train.slice(0, 4), { batchSize: 4, size: 101 + 27, mode: 'pad', shuffle: false, augment: horizontalFlip({ p: 1 }) })
    for await (const { xs, ys } of batches) {
      const x = xs.dataSync()
      const y = ys.dataSync()
      const s = train[0]!
      // Padded row 13 + 50, column 13 + 0 holds the flipped source column 100.
      expect(x[(13 + 50) * 128 + 13]).toBe(s.image[50 * 101 + 100])
      expect(y[(13 + 50) * 128 + 13]).toBe(s.mask[50 * 101 + 100])
      tf.dispose([xs, ys])
    }
  })

  it('prepares at most `prefetch` batches ahead of the consumer', async () => {
    let prepared = 0
    const counting: Augmentation = {
      name: 'count',
      p: 1,
      transform: (s) => s,
      apply: (s) => {
        prepared++
        return s
      },
    }
    const batches = createBatches(train, { batchSize: 4, size: 16, augment: counting, prefetch: 2 })
    const it = batches[Symbol.asyncIterator]()
    const first = await it.next()
    tf.dispose([first.value!.xs, first.value!.ys])
    // Give the prefetcher every chance to run ahead.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
    expect(prepared).toBeLessThanOrEqual(3 * 4)
    expect(prepared).toBeGreaterThanOrEqual(2 * 4)
    await it.return?.(undefined)
  })

  it('works as a dataset for fitDataset-style consumers', async () => {
    const ds = createBatches(train, { batchSize: 10, size: 16 }).toDataset()
    expect(ds.size).toBe(4)
    const iterator = await ds.iterator()
    let n = 0
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      n += r.value.xs.shape[0]
      tf.dispose([r.value.xs, r.value.ys])
    }
    expect(n).toBe(37)
  })
})

describe('with tfjs-layers', () => {
  it('model.fitDataset trains on toDataset() for several epochs without leaking', async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.conv2d({ inputShape: [16, 16, 2], filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' })],
    })
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'binaryCrossentropy' })
    const before = tf.memory().numTensors
    const batches = createBatches(train, { batchSize: 8, size: 16, depthChannel: true })
    const history = await model.fitDataset(batches.toDataset(), { epochs: 2, verbose: 0 })
    expect(history.history.loss).toHaveLength(2)
    expect(Number.isFinite(history.history.loss?.[1] as number)).toBe(true)
    // Optimizer state may stay; no batch tensor may.
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(2)
    model.dispose()
  })
})

describe('toInputTensor', () => {
  it('stacks test images at the model size', () => {
    const before = tf.memory().numTensors
    const xs = toInputTensor(test, { size: 128, mode: 'resize', depthChannel: true })
    expect(xs.shape).toEqual([3, 128, 128, 2])
    expect(xs.dataSync()[1]).toBeCloseTo(test[0]!.depth / 1000, 6)
    xs.dispose()
    expect(tf.memory().numTensors).toBe(before)
  })
})
