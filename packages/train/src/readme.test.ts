import { runReadmeExample } from '@unet/testing'
import { expect, it } from 'vitest'

it('runs the README usage example as written', async () => {
  const example = (await runReadmeExample(new URL('..', import.meta.url).pathname)) as { result: { stopReason: unknown; steps: number; history: unknown[] }; dice: number[] }
  expect(example.result.stopReason).toEqual({ kind: 'completed' })
  expect(example.result.steps).toBe(12)
  expect(example.dice).toHaveLength(3)
  for (const d of example.dice) expect(d).toBeGreaterThanOrEqual(0)
}, 180_000)
