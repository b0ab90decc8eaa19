import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README example as written', async () => {
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(example.outputShape).toEqual([null, 128, 128, 1])
  expect(example.logitsShape).toEqual([2, 32, 32, 1])
  expect(example.firstLayers).toEqual(['enc1_conv1', 'enc1_bn1', 'enc1_relu1'])
})
