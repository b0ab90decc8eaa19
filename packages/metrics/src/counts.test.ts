import { describe, expect, it } from 'vitest'
import { classScoresFromCounts, confusionCounts, diceFromCounts, iouFromCounts, pixelAccuracyFromCounts, TGS_IOU_THRESHOLDS, tgsImageScoreFromCounts } from './counts'
import { MetricsError } from './errors'
import { pixelAccuracy, tgsImageScore } from './scores'
import { masksWithCounts, random } from './testing'

describe('confusionCounts', () => {
  it('counts tp, fp, fn, tn', () => {
    expect(confusionCounts([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])).toEqual({ tp: 2, fp: 1, fn: 1, tn: 1 })
  })

  it('treats any non-zero value as foreground in both masks', () => {
    expect(confusionCounts(new Float32Array([0.2, -1, 0, 0]), new Uint16Array([65535, 0, 255, 0]))).toEqual({ tp: 1, fp: 1, fn: 1, tn: 1 })
  })

  it('binarises the prediction with > threshold when given', () => {
    const probs = new Float32Array([0.9, 0.5, 0.2, 0.7])
    const truth = [1, 1, 0, 0]
    expect(confusionCounts(probs, truth, { threshold: 0.5 })).toEqual({ tp: 1, fp: 1, fn: 1, tn: 1 })
    expect(confusionCounts(probs, truth, { threshold: 0.1 })).toEqual({ tp: 2, fp: 2, fn: 0, tn: 0 })
  })

  it('reproduces counts built on purpose', () => {
    const next = random(3)
    const [pred, truth] = masksWithCounts(37, 5, 11, 200, next)
    expect(confusionCounts(pred, truth)).toEqual({ tp: 37, fp: 5, fn: 11, tn: 200 })
  })

  it('refuses masks of different lengths and bad thresholds', () => {
    expect(() => confusionCounts([1, 0], [1])).toThrow(MetricsError)
    expect(() => confusionCounts([1, 0], [1])).toThrow(expect.objectContaining({ code: 'LENGTH_MISMATCH' }))
    expect(() => confusionCounts([1], [1], { threshold: Number.NaN })).toThrow(expect.objectContaining({ code: 'INVALID_THRESHOLD' }))
  })
})

describe('scores from counts', () => {
  it('computes IoU and Dice, 1 when both masks are empty', () => {
    expect(iouFromCounts({ tp: 3, fp: 1, fn: 0 })).toBe(0.75)
    expect(diceFromCounts({ tp: 3, fp: 1, fn: 0 })).toBe(6 / 7)
    expect(iouFromCounts({ tp: 0, fp: 0, fn: 0 })).toBe(1)
    expect(diceFromCounts({ tp: 0, fp: 0, fn: 0 })).toBe(1)
    expect(iouFromCounts({ tp: 0, fp: 2, fn: 3 })).toBe(0)
  })

  it('follows the TGS rules for empty masks', () => {
    expect(tgsImageScoreFromCounts({ tp: 0, fp: 0, fn: 0 })).toBe(1) // both empty
    expect(tgsImageScoreFromCounts({ tp: 0, fp: 4, fn: 0 })).toBe(0) // truth empty, prediction not
    expect(tgsImageScoreFromCounts({ tp: 0, fp: 0, fn: 4 })).toBe(0) // truth not empty, prediction empty
    expect(tgsImageScoreFromCounts({ tp: 5, fp: 0, fn: 0 })).toBe(1)
  })

  it('uses the ten thresholds 0.50 … 0.95', () => {
    expect(TGS_IOU_THRESHOLDS).toEqual([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
  })

  it('refuses counts that are not non-negative integers', () => {
    expect(() => iouFromCounts({ tp: -1, fp: 0, fn: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_COUNTS' }))
    expect(() => tgsImageScoreFromCounts({ tp: 1.5, fp: 0, fn: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_COUNTS' }))
  })
})

describe('TGS boundaries: IoU exactly on a threshold is not a hit', () => {
  // IoU = k/20 exactly, at several scales up to a whole 101 × 101 image; a hit needs IoU > t strictly,
  // so the image scores (k - 10)/10; one more true positive crosses the boundary.
  const cases: Array<[number, number]> = []
  for (let k = 10; k <= 19; k++) for (const scale of [1, 3, 7, 50, 510]) cases.push([k, scale])

  it.each(cases)('IoU = %i/20 at scale %i', (k, scale) => {
    const tp = k * scale
    const union = 20 * scale
    expect(tgsImageScoreFromCounts({ tp, fp: union - tp, fn: 0 })).toBe((k - 10) / 10)
    expect(tgsImageScoreFromCounts({ tp, fp: 0, fn: union - tp })).toBe((k - 10) / 10)
    // one pixel more in the intersection (the union grows by one on the fn side): just above k/20
    expect(tgsImageScoreFromCounts({ tp: tp + 1, fp: union - tp - 1, fn: 0 })).toBe((k - 9) / 10)
    // one pixel less: just below k/20 (at scale 1 that is (k-1)/20, itself a boundary, so one hit fewer)
    expect(tgsImageScoreFromCounts({ tp: tp - 1, fp: union - tp + 1, fn: 0 })).toBe(Math.max(0, k - (scale === 1 ? 11 : 10)) / 10)
  })

  it('gives an IoU of exactly 11/20 one hit (0.50 only), with real masks', () => {
    const [pred, truth] = masksWithCounts(11, 6, 3, 80, random(11))
    expect(tgsImageScore(pred, truth)).toBe(0.1)
  })

  it('is not fooled where an IoU computed in float32 (as tensor code would) drifts above the threshold', () => {
    expect(Math.fround(11 / 20) > 0.55).toBe(true) // the drift the integer rule avoids
    for (const s of [1, 2, 4, 8, 16, 32]) expect(tgsImageScoreFromCounts({ tp: 11 * s, fp: 0, fn: 9 * s })).toBe(0.1)
  })

  it('gives 0.7 exactly (a value that is not exact in binary) four hits', () => {
    // 7/10 and 0.7 are the same double, so a float comparison would also say "not greater" here;
    // counts 70/100 and 700/1000 must agree with it.
    for (const s of [1, 10, 100]) expect(tgsImageScoreFromCounts({ tp: 7 * s, fp: 3 * s, fn: 0 })).toBe(0.4)
  })
})

describe('pixel accuracy and per-class scores', () => {
  it('count right pixels of both classes, and score the background with the roles swapped', () => {
    expect(pixelAccuracyFromCounts({ tp: 3, fp: 1, fn: 0, tn: 4 })).toBe(7 / 8)
    expect(pixelAccuracy([1, 1, 0, 0], [1, 0, 1, 0])).toBe(0.5)
    expect(pixelAccuracyFromCounts({ tp: 0, fp: 0, fn: 0, tn: 0 })).toBe(1)
    const all = classScoresFromCounts({ tp: 3, fp: 1, fn: 0, tn: 4 })
    expect(all.foreground).toEqual({ iou: 0.75, dice: 6 / 7 })
    expect(all.background).toEqual({ iou: 0.8, dice: 8 / 9 })
    // predicting all background on a mostly-background image: high background score, zero foreground
    const empty = classScoresFromCounts({ tp: 0, fp: 0, fn: 5, tn: 95 })
    expect(empty.foreground.iou).toBe(0)
    expect(empty.background.iou).toBe(0.95)
    expect(() => pixelAccuracyFromCounts({ tp: 1, fp: 0, fn: 0, tn: -1 })).toThrow(/tn must be a non-negative integer/)
  })
})
