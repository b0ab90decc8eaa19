import { describe, expect, it } from 'vitest'
import { scoreProbabilities } from './scoring'

describe('scoreProbabilities', () => {
  // 2×2 masks: one empty truth, one with salt
  const truths = [new Uint8Array([0, 0, 0, 0]), new Uint8Array([1, 1, 0, 0])]

  it('picks the threshold that separates salt from background and scores it', () => {
    const probs = [new Float32Array([0.2, 0.1, 0.3, 0.2]), new Float32Array([0.6, 0.7, 0.2, 0.1])]
    const s = scoreProbabilities(truths, probs, [0, 6], [0.1, 0.4, 0.65])
    expect(s.sweep.map((t) => t.threshold)).toEqual([0.1, 0.4, 0.65])
    expect(s.best).toEqual({ threshold: 0.4, score: 1, iou: 1, dice: 1 })
    // at 0.65 the salt image keeps 1 of 2 pixels: IoU 0.5, no TGS hit (IoU must exceed 0.5)
    expect(s.sweep[2]).toMatchObject({ score: 0.5, iou: 0.75 })
    expect(s.emptyBaseline).toBe(0.5)
    expect(s.byCoverageClass).toEqual([
      { coverageClass: 0, count: 1, score: 1, iou: 1 },
      { coverageClass: 6, count: 1, score: 1, iou: 1 },
    ])
  })
})
