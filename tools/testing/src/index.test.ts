import { describe, expect, it } from 'vitest'
import { firstCodeBlock, seededRandom } from './index.ts'

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
