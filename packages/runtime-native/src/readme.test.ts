import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README usage example as written', async () => {
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  if (example.result === null) {
    expect(example.reason).toMatch(/not built|failed to load/)
  } else {
    expect(example.result).toEqual([6, 8, 12, 14])
    expect(example.reason).toMatch(/^oneDNN conv addon loaded from /)
  }
})
