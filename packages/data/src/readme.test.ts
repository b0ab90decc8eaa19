import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README example as written', async () => {
  const { result } = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(result).toEqual({ fit: 4, validation: 2, shapes: [[2, 32, 64, 3], [2, 32, 64, 3]], input: 64 * 32 * 3, restored: true })
})
