import { describe, expect, it } from 'vitest'
import { createRng, deriveSeed, seededShuffle } from './rng'

describe('createRng', () => {
  it('repeats for a seed and continues from a stored state', () => {
    const a = createRng(7)
    const first = [a.next(), a.next(), a.next()]
    expect([createRng(7).next(), createRng(7).next()]).toEqual([first[0], first[0]])
    const b = createRng(7)
    b.next()
    const resumed = createRng(0, b.state)
    expect([resumed.next(), resumed.next()]).toEqual(first.slice(1))
  })
  it('draws in [0, 1) with a roughly uniform mean', () => {
    const r = createRng(1)
    let sum = 0
    for (let i = 0; i < 10000; i++) {
      const v = r.next()
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThan(1)
      sum += v
    }
    expect(sum / 10000).toBeGreaterThan(0.48)
    expect(sum / 10000).toBeLessThan(0.52)
  })
})

describe('seededShuffle / deriveSeed', () => {
  it('is a permutation that depends on the seed', () => {
    const items = Array.from({ length: 50 }, (_, i) => i)
    const a = seededShuffle(items, deriveSeed(1, 1, 0))
    expect([...a].sort((x, y) => x - y)).toEqual(items)
    expect(seededShuffle(items, deriveSeed(1, 1, 0))).toEqual(a)
    expect(seededShuffle(items, deriveSeed(1, 1, 1))).not.toEqual(a)
  })
})
