import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README usage example as written', async () => {
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(example.counts).toEqual({ tp: 3, fp: 1, fn: 1, tn: 3 })
  expect(example.jaccard).toBe(0.6)
  expect(example.f1).toBe(0.75)
  expect(example.image).toBe(0.2)
  expect(example.dataset).toBe(0.6)
  expect(example.sweep).toMatchObject({
    thresholds: [0.3, 0.42, 0.5, 0.75],
    scores: [0.6, 1, 0.5, 0],
    iou: [0.8, 1, 0.75, 0.5],
    best: { threshold: 0.42, score: 1 },
  })
})
