import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README example as written', async () => {
  await tf.setBackend('cpu')
  const start = tf.memory().numTensors
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(example.names).toEqual(['resnet18', 'resnet34', 'resnet50', 'seresnet18', 'seresnet34', 'seresnet50'])
  expect(example.featureShapes).toEqual([
    [null, 32, 48, 64],
    [null, 16, 24, 64],
    [null, 8, 12, 128],
    [null, 4, 6, 256],
    [null, 2, 3, 512],
  ])
  expect(example.format).toBe('keras-h5')
  expect(example.loaded).toHaveLength(56)
  expect(example.outputShape).toEqual([null, 64, 128, 1])
  expect(tf.memory().numTensors).toBe(start)
})
