import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'
import { VGG16_CONV_LAYERS } from './architecture'

it('runs the README example as written', async () => {
  await tf.setBackend('cpu')
  const start = tf.memory().numTensors
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(example.loaded).toEqual([...VGG16_CONV_LAYERS])
  expect(example.ignored).toEqual(expect.arrayContaining(['input_1', 'block3_pool']))
  expect(example.outputShape).toEqual([null, 128, 128, 1])
  expect(example.frozen).toEqual([])
  expect(tf.memory().numTensors).toBe(start)
})
