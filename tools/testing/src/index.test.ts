import { describe, expect, it } from 'vitest'
import { firstCodeBlock } from './index.ts'

describe('firstCodeBlock', () => {
  it('returns the first ts block', () => {
    expect(firstCodeBlock('# x\n```ts\nconst a = 1\n```\n```ts\nb\n```')).toBe('const a = 1\n')
  })
  it('throws when a README has no example', () => {
    expect(() => firstCodeBlock('# nothing here')).toThrow(/no ```ts usage block/)
  })
})
