import { describe, expect, it } from 'vitest'
import { coverageClass, groupedKFold, groupedSplit, maskCoverage, stratifiedKFold, stratifiedSplit } from './split'

const samples = Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, coverageClass: i % 7 === 0 ? 0 : (i % 11) % 4 }))
/** Carvana-like: 20 cars of 16 views each. */
const views = Array.from({ length: 320 }, (_, i) => ({ id: `car${Math.floor(i / 16)}_${(i % 16) + 1}`, group: `car${Math.floor(i / 16)}` }))

describe('stratifiedSplit and stratifiedKFold', () => {
  it('keep every class in proportion, disjoint and complete, reproducible from the seed', () => {
    const { train, validation } = stratifiedSplit(samples, { validationFraction: 0.2, seed: 3 })
    expect(validation.length).toBe(40)
    expect(new Set([...train, ...validation].map((s) => s.id)).size).toBe(200)
    for (const k of [0, 1, 2, 3]) {
      const all = samples.filter((s) => s.coverageClass === k).length
      const v = validation.filter((s) => s.coverageClass === k).length
      expect(Math.abs(v - all * 0.2)).toBeLessThanOrEqual(1)
    }
    expect(stratifiedSplit(samples, { seed: 3 }).validation.map((s) => s.id)).toEqual(validation.map((s) => s.id))
    expect(stratifiedSplit(samples, { seed: 4 }).validation.map((s) => s.id)).not.toEqual(validation.map((s) => s.id))
    const folds = stratifiedKFold(samples, { folds: 5, seed: 1 })
    expect(folds.flatMap((f) => f.validation.map((s) => s.id)).sort()).toEqual(samples.map((s) => s.id).sort())
    for (const f of folds) expect(f.train.length + f.validation.length).toBe(200)
  })

  it('stratify by any key; without one, say how to give it', () => {
    const plain = views.map((v, i) => ({ ...v, big: i % 3 === 0 }))
    const { validation } = stratifiedSplit(plain, { stratifyBy: (s) => String(s.big), validationFraction: 0.25 })
    expect(validation.filter((s) => s.big).length).toBe(Math.round(plain.filter((s) => s.big).length * 0.25))
    expect(() => stratifiedSplit(views)).toThrow(/need a key: .*stratifyBy/)
    // Samples with masks are binned by coverage without being told.
    const masked = Array.from({ length: 40 }, (_, i) => ({ id: i, mask: Uint8Array.from({ length: 10 }, (_, p) => (p < (i % 2 ? 9 : 0) ? 1 : 0)) }))
    const split = stratifiedSplit(masked, { validationFraction: 0.25, seed: 1 })
    expect(split.validation.filter((s) => s.mask[0] === 1).length).toBe(5)
    expect(() => stratifiedSplit(samples, { validationFraction: 1 })).toThrow(/validationFraction must be in \(0, 1\)/)
  })
})

describe('grouped splits', () => {
  it('never let a car straddle train and validation', () => {
    for (const seed of [0, 1, 2, 3]) {
      const { train, validation } = groupedSplit(views, { validationFraction: 0.2, seed })
      const trainCars = new Set(train.map((s) => s.group))
      expect(validation.some((s) => trainCars.has(s.group))).toBe(false)
      expect(validation.length).toBe(64) // 4 whole cars
      expect(train.length + validation.length).toBe(320)
    }
    const a = groupedSplit(views, { groupBy: (s) => s.id.split('_')[0]!, seed: 5 }).validation.map((s) => s.id)
    expect(groupedSplit(views, { seed: 5 }).validation.map((s) => s.id)).toEqual(a)
    expect(groupedSplit([...views].reverse(), { seed: 5 }).validation.map((s) => s.id).sort()).toEqual(a.slice().sort())
  })

  it('grouped k-fold deals whole groups, folds balanced', () => {
    const folds = groupedKFold(views, { folds: 4, seed: 1 })
    expect(folds.map((f) => f.validation.length)).toEqual([80, 80, 80, 80])
    for (const f of folds) {
      const cars = new Set(f.validation.map((s) => s.group))
      expect(f.train.some((s) => cars.has(s.group))).toBe(false)
    }
    expect(() => groupedKFold(views.slice(0, 32), { folds: 3 })).toThrow(/at least as many groups as folds \(3\), got 2/)
  })
})

describe('coverage', () => {
  it('maskCoverage and coverageClass follow the TGS definition', () => {
    expect(maskCoverage(new Uint8Array([0, 1, 1, 0]))).toBe(0.5)
    expect([0, 0.001, 0.1, 0.3, 0.30001, 1].map(coverageClass)).toEqual([0, 1, 1, 3, 4, 10])
  })
})
