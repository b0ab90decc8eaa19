import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README example as written', async () => {
  await tf.setBackend('cpu')
  const before = tf.memory().numTensors
  const { result } = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(result).toEqual({ train: 40, test: 8, fit: 30, validation: 10, seen: 30, maskPixels: 101 * 101 })
  expect(tf.memory().numTensors).toBe(before)
})
