import { describe, expect, it } from 'vitest'
import { meanSd, pairedDifference, t975 } from './stats'

describe('meanSd', () => {
  it('gives the mean and the n − 1 standard deviation', () => {
    const s = meanSd([2, 4, 4, 4, 5, 5, 7, 9])
    expect(s.mean).toBe(5)
    expect(s.sd).toBeCloseTo(Math.sqrt(32 / 7), 12)
  })
})

describe('pairedDifference', () => {
  it('is the t interval of the per-pair differences', () => {
    // differences 1, 2, 3: mean 2, sd 1, t(0.975, 2 df) = 4.303
    const d = pairedDifference([1.5, 2.5, 3.5], [0.5, 0.5, 0.5])
    expect(d.mean).toBeCloseTo(2, 12)
    expect(d.sd).toBeCloseTo(1, 12)
    expect(d.low).toBeCloseTo(2 - 4.303 / Math.sqrt(3), 12)
    expect(d.high).toBeCloseTo(2 + 4.303 / Math.sqrt(3), 12)
  })

  it('pairs by position, so a shared seed effect cancels', () => {
    const d = pairedDifference([0.7, 0.8, 0.9], [0.69, 0.79, 0.89])
    expect(d.sd).toBeLessThan(1e-12)
    expect(d.low).toBeCloseTo(0.01, 12)
  })

  it('refuses unequal or too short samples', () => {
    expect(() => pairedDifference([1, 2], [1])).toThrow(/equally long/)
    expect(() => pairedDifference([1], [1])).toThrow(/at least 2/)
  })
})

describe('t975', () => {
  it('follows the table and tends to the normal quantile', () => {
    expect(t975(1)).toBe(12.706)
    expect(t975(4)).toBe(2.776)
    expect(t975(1000)).toBe(1.96)
    expect(() => t975(0)).toThrow(/degree/)
  })
})
