import { describe, expect, it } from 'vitest'
import { createRng, deriveSeed, seededShuffle } from './rng'

describe('createRng', () => {
  it('is a pure function of the seed, and differs between seeds', () => {
    const a = createRng(42)
    const b = createRng(42)
    const xs = Array.from({ length: 50 }, () => a())
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(xs)
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
    expect(createRng(43)()).not.toBe(xs[0])
    expect(createRng('run-a')()).toBe(createRng('run-a')())
  })

  it('continues from a stored state exactly where an uninterrupted generator goes on', () => {
    const straight = createRng(7)
    const first = Array.from({ length: 13 }, () => straight())
    const interrupted = createRng(7)
    for (let i = 0; i < 13; i++) interrupted()
    const resumed = createRng(0, interrupted.state)
    expect(first.length).toBe(13)
    expect(Array.from({ length: 20 }, () => resumed())).toEqual(Array.from({ length: 20 }, () => straight()))
  })

  it('gives integers in range, and seeded shuffles that are permutations', () => {
    const rng = createRng(1)
    const ints = Array.from({ length: 1000 }, () => rng.int(6))
    expect(new Set(ints)).toEqual(new Set([0, 1, 2, 3, 4, 5]))
    const order = seededShuffle([...Array(20).keys()], 3)
    expect(order.slice().sort((x, y) => x - y)).toEqual([...Array(20).keys()])
    expect(seededShuffle([...Array(20).keys()], 3)).toEqual(order)
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3))
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 3, 2))
  })
})
