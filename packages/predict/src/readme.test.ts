import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README usage example as written', async () => {
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(example.input).toEqual({ width: 4, height: 2, channels: 1 })
  expect(example.firstRow).toEqual([0.5, 0.75, 0.5, 0.75])
  expect(example.problem).toBe('RUN_VERSION')
})
