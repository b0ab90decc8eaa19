import '@tensorflow/tfjs-backend-cpu'
import { runReadmeExample } from '@unet/testing'
import { describe, expect, it } from 'vitest'

describe('README', () => {
  it('runs its usage example', async () => {
    const { summary } = (await runReadmeExample(new URL('..', import.meta.url).pathname)) as {
      summary: { stopReason: { kind: string }; epochs: number; best: { value: number; monitor: string } | null; emptyBaseline: number }
    }
    expect(summary.stopReason).toEqual({ kind: 'completed' })
    expect(summary.epochs).toBe(1)
    expect(summary.best?.monitor).toBe('val_tgs')
    expect(summary.best?.value).toBeGreaterThanOrEqual(0)
    expect(summary.emptyBaseline).toBeGreaterThan(0)
  }, 120_000)
})
