import { describe, expect, it } from 'vitest'
import { firstCodeBlock, seededRandom, seededValues } from './index.ts'

describe('firstCodeBlock', () => {
  it('returns the first ts block', () => {
    expect(firstCodeBlock('# x\n```ts\nconst a = 1\n```\n```ts\nb\n```')).toBe('const a = 1\n')
  })
  it('throws when a README has no example', () => {
    expect(() => firstCodeBlock('# nothing here')).toThrow(/no ```ts usage block/)
  })
})

describe('seededRandom', () => {
  it('repeats a stream from its seed and differs between seeds', () => {
    const a = seededRandom(7)
    const b = seededRandom(7)
    const c = seededRandom(8)
    const xs = Array.from({ length: 5 }, () => a())
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs)
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs)
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true)
  })
})

describe('seededValues', () => {
  it('repeats from its seed, spans [shift − 1, shift + 1) and differs between seeds', () => {
    const a = seededValues(1000, 3, 5)
    expect(seededValues(1000, 3, 5)).toEqual(a)
    expect(seededValues(1000, 4, 5)).not.toEqual(a)
    expect(Math.min(...a)).toBeGreaterThanOrEqual(4)
    expect(Math.max(...a)).toBeLessThan(6)
    // Both halves of the range are used: not a constant or a one-sided stream.
    expect(a.some((v) => v < 4.5) && a.some((v) => v > 5.5)).toBe(true)
  })
})
