import '@tensorflow/tfjs-backend-cpu'
import { runReadmeExample } from '@unet/testing'
import { describe, expect, it } from 'vitest'

describe('README', () => {
  it('runs its usage example', async () => {
    const { summary } = (await runReadmeExample(new URL('..', import.meta.url).pathname)) as {
      summary: { stopReason: string; epochs: number; best: { score: number } | null; emptyBaseline: number }
    }
    expect(summary.stopReason).toBe('completed')
    expect(summary.epochs).toBe(1)
    expect(summary.best?.score).toBeGreaterThanOrEqual(0)
    expect(summary.emptyBaseline).toBeGreaterThan(0)
  }, 120_000)
})
