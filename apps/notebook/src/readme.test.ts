import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README example as written', async () => {
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(String(example.kernelDir)).toMatch(/share\/jupyter\/kernels\/unet-typescript$/)
  expect((example.argv as string[]).slice(2)).toEqual(['run', '{connection_file}'])
  expect(example.mimeTypes).toEqual([
    ['image/png', 'text/plain'],
    ['image/svg+xml', 'text/plain'],
  ])
  expect(example.svgStart).toBe('<svg')
})
