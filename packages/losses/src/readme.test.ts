import { runReadmeExample } from '@unet/testing'
import { afterAll, expect, it, vi } from 'vitest'

// tf.loadLayersModel warns that the output has no (built-in) loss: expected, see the README
const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
afterAll(() => warn.mockRestore())

it('runs the README example as written', async () => {
  const example = await runReadmeExample(new URL('..', import.meta.url).pathname)
  expect(example.restored).toBe('lovasz_hinge_elu')
  expect(example.names).toEqual(['bce', 'bce_logits', 'dice', 'bce_dice', 'jaccard', 'focal', 'lovasz_hinge', 'lovasz_hinge_elu', 'lovasz_hinge_symmetric'])
})
