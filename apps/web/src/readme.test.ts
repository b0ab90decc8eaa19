import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

// the page serve needs is built by test/global-setup.ts
it('runs its usage example', async () => {
  const result = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(result).toMatchObject({ page: 200, runJson: 200, weights: 200, config: 404 })
})
