// Stratified splits (from @unet/data, re-exported by this package) on TGS samples and their coverage classes.
import { describe, expect, it } from 'vitest'
import { stratifiedKFold, stratifiedSplit } from '@unet/data'

// 1,000 fake samples with Kaggle-like class shares.
const shares = [390, 120, 45, 45, 45, 45, 45, 45, 45, 45, 130]
const samples = shares.flatMap((n, cls) => Array.from({ length: n }, (_, i) => ({ id: `${cls}-${i}`, coverageClass: cls })))

function countByClass(list: readonly { coverageClass: number }[]): number[] {
  const counts = new Array<number>(11).fill(0)
  for (const s of list) counts[s.coverageClass]!++
  return counts
}

describe('stratifiedSplit', () => {
  it('keeps every class in proportion, is disjoint and complete', () => {
    const { train, validation } = stratifiedSplit(samples, { validationFraction: 0.2, seed: 3 })
    expect(validation.length).toBe(200)
    expect(train.length).toBe(800)
    expect(new Set([...train, ...validation].map((s) => s.id)).size).toBe(1000)
    countByClass(validation).forEach((n, cls) => expect(Math.abs(n - shares[cls]! * 0.2)).toBeLessThanOrEqual(1))
  })

  it('is reproducible from the seed and differs between seeds', () => {
    const a = stratifiedSplit(samples, { validationFraction: 0.2, seed: 3 }).validation.map((s) => s.id)
    const b = stratifiedSplit(samples, { validationFraction: 0.2, seed: 3 }).validation.map((s) => s.id)
    const c = stratifiedSplit(samples, { validationFraction: 0.2, seed: 4 }).validation.map((s) => s.id)
    expect(a).toEqual(b)
    expect(c).not.toEqual(a)
  })

  it('rejects fractions outside (0, 1)', () => {
    expect(() => stratifiedSplit(samples, { validationFraction: 1 })).toThrow(/validationFraction must be in \(0, 1\)/)
  })
})

describe('stratifiedKFold', () => {
  it('makes folds whose validation parts cover every sample once, stratified', () => {
    const folds = stratifiedKFold(samples, { folds: 5, seed: 1 })
    expect(folds).toHaveLength(5)
    const seen = new Map<string, number>()
    for (const { train, validation } of folds) {
      expect(train.length + validation.length).toBe(1000)
      expect(Math.abs(validation.length - 200)).toBeLessThanOrEqual(1)
      const ids = new Set(validation.map((s) => s.id))
      expect(train.some((s) => ids.has(s.id))).toBe(false)
      for (const s of validation) seen.set(s.id, (seen.get(s.id) ?? 0) + 1)
      countByClass(validation).forEach((n, cls) => expect(Math.abs(n - shares[cls]! / 5)).toBeLessThanOrEqual(1))
    }
    expect(seen.size).toBe(1000)
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
    expect(stratifiedKFold(samples, { folds: 5, seed: 1 }).map((f) => f.validation.map((s) => s.id))).toEqual(
      folds.map((f) => f.validation.map((s) => s.id)),
    )
  })

  it('needs at least two folds', () => {
    expect(() => stratifiedKFold(samples, { folds: 1 })).toThrow(/folds must be an integer ≥ 2/)
  })
})
