import { describe, expect, it } from 'vitest'
import { dice, iou, tgsImageScore, tgsScore } from './scores'
import { failure, masksWithCounts, random } from './testing'

describe('iou and dice', () => {
  it('score overlapping masks', () => {
    expect(iou([1, 1, 0, 0], [1, 0, 1, 0])).toBe(1 / 3)
    expect(dice([1, 1, 0, 0], [1, 0, 1, 0])).toBe(0.5)
    expect(iou([1, 1, 1, 0], [1, 1, 0, 0])).toBe(2 / 3)
    expect(dice([1, 1, 1, 0], [1, 1, 0, 0])).toBe(0.8)
  })

  it('are 1 for two empty masks and 0 for disjoint ones', () => {
    expect(iou([0, 0, 0], [0, 0, 0])).toBe(1)
    expect(dice(new Uint8Array(9), new Uint8Array(9))).toBe(1)
    expect(iou([1, 0], [0, 1])).toBe(0)
    expect(dice([0, 0], [0, 1])).toBe(0)
  })

  it('take a threshold for probability maps', () => {
    expect(iou(new Float32Array([0.9, 0.6, 0.3, 0.1]), [1, 0, 0, 0], { threshold: 0.5 })).toBe(0.5)
    expect(iou(new Float32Array([0.9, 0.6, 0.3, 0.1]), [1, 0, 0, 0], { threshold: 0.7 })).toBe(1)
  })

  it('refuse masks of different lengths', () => {
    expect(failure(() => iou([1, 0, 1], [1, 0])).code).toBe('LENGTH_MISMATCH')
    expect(failure(() => dice([1], [1, 1])).message).toMatch(/1 pixels but its truth has 2/)
  })
})

describe('tgsImageScore', () => {
  it('averages IoU > t over t = 0.50 … 0.95', () => {
    expect(tgsImageScore([1, 1, 1, 0], [1, 1, 0, 0])).toBe(0.4) // IoU 2/3
    const next = random(5)
    // IoU 0.82 → hits at 0.50 … 0.80 (7)
    const [pred, truth] = masksWithCounts(82, 10, 8, 900, next)
    expect(tgsImageScore(pred, truth)).toBe(0.7)
  })

  it('follows the TGS empty-mask rules', () => {
    expect(tgsImageScore([0, 0], [0, 0])).toBe(1)
    expect(tgsImageScore([1, 0], [0, 0])).toBe(0)
    expect(tgsImageScore([0, 0], [0, 1])).toBe(0)
  })
})

describe('tgsScore', () => {
  it('is the mean of the image scores', () => {
    const next = random(9)
    const images = [masksWithCounts(82, 10, 8, 900, next), masksWithCounts(0, 0, 0, 50, next), masksWithCounts(0, 3, 0, 50, next)]
    expect(tgsScore(images.map((i) => i[0]), images.map((i) => i[1]))).toBeCloseTo((0.7 + 1 + 0) / 3, 15)
  })

  it('accepts any iterables, e.g. generators', () => {
    function* preds(): Generator<number[]> {
      yield [1, 1]
      yield [0, 0]
    }
    expect(tgsScore(preds(), [[1, 1], [1, 0]])).toBe(0.5)
  })

  it('refuses lists of different lengths, empty lists, and names the image of a length mismatch', () => {
    expect(failure(() => tgsScore([[1]], [[1], [0]])).code).toBe('COUNT_MISMATCH')
    expect(failure(() => tgsScore([[1], [0]], [[1]])).code).toBe('COUNT_MISMATCH')
    expect(failure(() => tgsScore([], [])).code).toBe('EMPTY_INPUT')
    const error = failure(() => tgsScore([[1], [1, 0]], [[1], [1]]))
    expect(error).toMatchObject({ code: 'LENGTH_MISMATCH', index: 1 })
    expect(error.message).toContain('image 1')
  })
})
