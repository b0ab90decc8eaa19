import { describe, expect, it } from 'vitest'
import { dice, iou, pixelAccuracy, tgsScore } from './scores'
import { classScoresFromCounts, confusionCounts } from './counts'
import { DEFAULT_SWEEP_THRESHOLDS, sweepThresholds, ThresholdSweep } from './sweep'
import { failure, random } from './testing'

/**
 * Probability maps quantised to 0.01 (as doubles, equal to the default thresholds i/100) so that many pixels
 * sit exactly on a threshold, where "> threshold" must say no.
 */
function dataset(count: number, n: number, seed: number): { probs: Float64Array[]; truths: Uint8Array[] } {
  const next = random(seed)
  const probs: Float64Array[] = []
  const truths: Uint8Array[] = []
  for (let k = 0; k < count; k++) {
    const p = new Float64Array(n)
    const t = new Uint8Array(n)
    const empty = next() < 0.3
    for (let i = 0; i < n; i++) {
      t[i] = !empty && i % 17 < 6 ? 1 : 0
      const noisy = t[i] ? 0.4 + 0.6 * next() : 0.7 * next()
      p[i] = Math.round(noisy * 100) / 100
    }
    probs.push(p)
    truths.push(t)
  }
  return { probs, truths }
}

describe('sweepThresholds', () => {
  it('equals tgsScore at every default threshold, exactly, including pixels sitting on a threshold', () => {
    const { probs, truths } = dataset(40, 300, 1)
    expect(probs.some((p) => p.includes(0.07) && p.includes(0.5))).toBe(true)
    const result = sweepThresholds(probs, truths)
    expect(result.scores).toEqual(result.tgs)
    expect(result.thresholds).toEqual([...DEFAULT_SWEEP_THRESHOLDS])
    expect(result.thresholds).toHaveLength(100)
    result.thresholds.forEach((threshold, j) => {
      expect(result.scores[j], `threshold ${threshold}`).toBe(tgsScore(probs, truths, { threshold }))
    })
    const bestScore = Math.max(...result.scores)
    expect(result.best).toEqual({ threshold: result.thresholds[result.scores.indexOf(bestScore)], score: bestScore })
    expect(new Set(result.scores).size).toBeGreaterThan(5) // the data is not degenerate
  })

  it('handles uneven, unsorted and duplicate thresholds and odd probabilities', () => {
    const { probs, truths } = dataset(10, 200, 2)
    const first = probs[0] as Float64Array
    first[0] = Number.NaN // never foreground
    first[1] = -3
    first[2] = 7
    first[3] = Number.POSITIVE_INFINITY
    first[4] = Math.fround(0.5)
    const thresholds = [0.9, 0.5, 1e-9, 0.5, 0.50000001, -1, 2, 0.31]
    const result = sweepThresholds(probs, truths, thresholds)
    expect(result.thresholds).toEqual([-1, 1e-9, 0.31, 0.5, 0.50000001, 0.9, 2])
    result.thresholds.forEach((threshold, j) => {
      expect(result.scores[j], `threshold ${threshold}`).toBe(tgsScore(probs, truths, { threshold }))
    })
  })

  it('places probabilities exactly among thresholds packed closer than the lookup table resolves', () => {
    const thresholds = [0.1, 0.5, 0.50001, 0.50002, 0.50003, 0.9]
    const between = [0.5, 0.500005, 0.50001, 0.500015, 0.50002, 0.500025, 0.50003, 0.500035, 0.4999999, 0.95, 0.05]
    const next = random(8)
    const probs: Float64Array[] = []
    const truths: Uint8Array[] = []
    for (let k = 0; k < 20; k++) {
      probs.push(Float64Array.from({ length: 60 }, () => between[Math.floor(next() * between.length)] as number))
      truths.push(Uint8Array.from({ length: 60 }, () => (next() < 0.5 ? 1 : 0)))
    }
    const result = sweepThresholds(probs, truths, thresholds)
    result.thresholds.forEach((threshold, j) => {
      expect(result.scores[j], `threshold ${threshold}`).toBe(tgsScore(probs, truths, { threshold }))
    })
    const iouResult = sweepThresholds(probs, truths, thresholds, { metric: 'iou' })
    result.thresholds.forEach((threshold, j) => {
      const mean = probs.reduce((sum, p, k) => sum + iou(p, truths[k] as Uint8Array, { threshold }), 0) / probs.length
      expect(iouResult.scores[j], `threshold ${threshold}`).toBeCloseTo(mean, 12)
    })
  })

  it('works with a single threshold', () => {
    const { probs, truths } = dataset(5, 100, 3)
    expect(sweepThresholds(probs, truths, [0.5]).scores).toEqual([tgsScore(probs, truths, { threshold: 0.5 })])
  })

  it('averages IoU or Dice instead on request', () => {
    const { probs, truths } = dataset(12, 150, 4)
    for (const [metric, score] of [
      ['iou', iou],
      ['dice', dice],
    ] as const) {
      const result = sweepThresholds(probs, truths, [0.2, 0.45, 0.6], { metric })
      result.thresholds.forEach((threshold, j) => {
        const mean = probs.reduce((sum, p, k) => sum + score(p, truths[k] as Uint8Array, { threshold }), 0) / probs.length
        expect(result.scores[j]).toBeCloseTo(mean, 12)
        expect(result[metric][j]).toBe(result.scores[j])
      })
      const best = Math.max(...result.scores)
      expect(result.best).toEqual({ threshold: result.thresholds[result.scores.indexOf(best)], score: best })
      // the TGS means come along whatever the metric
      expect(result.tgs).toEqual(sweepThresholds(probs, truths, [0.2, 0.45, 0.6]).scores)
    }
  })

  it('averages pixel accuracy and background IoU per image, equal to scoring each threshold alone', () => {
    const { probs, truths } = dataset(9, 120, 6)
    const thresholds = [0.1, 0.5, 0.77]
    const result = sweepThresholds(probs, truths, thresholds, { metric: 'pixelAccuracy' })
    result.thresholds.forEach((threshold, j) => {
      const acc = probs.reduce((sum, p, k) => sum + pixelAccuracy(p, truths[k] as Uint8Array, { threshold }), 0) / probs.length
      const bg = probs.reduce((sum, p, k) => sum + classScoresFromCounts(confusionCounts(p, truths[k] as Uint8Array, { threshold })).background.iou, 0) / probs.length
      expect(result.scores[j]).toBeCloseTo(acc, 12)
      expect(result.pixelAccuracy[j]).toBe(result.scores[j])
      expect(result.backgroundIou[j]).toBeCloseTo(bg, 12)
    })
  })

  it('picks the lowest threshold when several tie for best', () => {
    const result = sweepThresholds([new Float32Array([0.9, 0.1])], [new Uint8Array([1, 0])], [0.2, 0.5, 0.8, 0.95])
    expect(result.scores).toEqual([1, 1, 1, 0])
    expect(result.best).toEqual({ threshold: 0.2, score: 1 })
    expect(result.iou).toEqual([1, 1, 1, 0])
    expect(result.dice).toEqual([1, 1, 1, 0])
  })

  it('reads each pixel once per image, however many thresholds', () => {
    const { probs, truths } = dataset(1, 500, 5)
    let reads = 0
    const counted = new Proxy(probs[0] as Float64Array, {
      get(target, key) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++
        const value = Reflect.get(target, key, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    sweepThresholds([counted], truths, DEFAULT_SWEEP_THRESHOLDS)
    expect(reads).toBe(500)
  })

  it('refuses bad thresholds, mismatched lists and empty input', () => {
    expect(failure(() => sweepThresholds([[0.5]], [[1]], [])).code).toBe('INVALID_THRESHOLD')
    expect(failure(() => sweepThresholds([[0.5]], [[1]], [0.5, Number.NaN])).code).toBe('INVALID_THRESHOLD')
    expect(failure(() => sweepThresholds([[0.5]], [[1]], [0.5], { metric: 'f2' as never })).code).toBe('INVALID_THRESHOLD')
    expect(failure(() => sweepThresholds([[0.5], [0.5]], [[1]])).code).toBe('COUNT_MISMATCH')
    expect(failure(() => sweepThresholds([[0.5]], [[1], [1]])).code).toBe('COUNT_MISMATCH')
    expect(failure(() => sweepThresholds([], [])).code).toBe('EMPTY_INPUT')
    expect(failure(() => sweepThresholds([[0.5], [0.5, 0.2]], [[1], [1]]))).toMatchObject({ code: 'LENGTH_MISMATCH', index: 1 })
  })
})

describe('ThresholdSweep', () => {
  it('gives the same result added image by image as in one call', () => {
    const { probs, truths } = dataset(8, 120, 6)
    const sweep = new ThresholdSweep([0.3, 0.5, 0.7])
    probs.forEach((p, k) => sweep.add(p, truths[k] as Uint8Array))
    expect(sweep.images).toBe(8)
    expect(sweep.result()).toEqual(sweepThresholds(probs, truths, [0.3, 0.5, 0.7]))
  })

  it('refuses a result before any image', () => {
    expect(failure(() => new ThresholdSweep().result()).code).toBe('EMPTY_INPUT')
  })
})
