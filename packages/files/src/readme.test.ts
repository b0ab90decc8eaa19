import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README usage example as written', async () => {
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(example.config).toBe('{"epochs":3}')
  expect(example.written).toMatchObject({ mode: 'replaced', bytes: 18 })
  expect(example.devNull).toBe('stream')
  expect(example.problem).toBe('NO_FOLDER')
})
