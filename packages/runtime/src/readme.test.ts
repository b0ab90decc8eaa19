import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

import { backendRequests } from './backend'

it('runs the README example as written', async () => {
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(backendRequests).toContain(example.backend)
  expect(example.reason).toMatch(new RegExp(`^${String(example.backend)}: `))
  expect(example.samePredictions).toBe(true)
  expect(example.foldedLayers).toEqual(['Conv2D', 'Conv2D'])
  expect(example.foldedMaxDiff).toBeLessThan(1e-5)
})
