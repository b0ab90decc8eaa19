import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README usage example as written', async () => {
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(example.rle).toBe('4 2 7 2')
  expect(example.rowMajor).toBe('2 2 5 2')
  expect(example.decoded).toEqual(new Uint8Array([0, 1, 1, 0, 1, 1, 0, 0, 0]))
  expect(example.csv).toBe('id,rle_mask\n0a1742c740,4 2 7 2\n0a7e067255,\n')
  expect(example.rows).toEqual([
    { id: '0a1742c740', rleMask: '4 2 7 2' },
    { id: '0a7e067255', rleMask: '' },
  ])
  expect(example.problem).toBe('OVERLAPPING_RUNS at token 3')
})
