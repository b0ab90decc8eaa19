import { describe, expect, it } from 'vitest'
import { decode, validateRle } from './decode'
import { RleError, type RleErrorCode } from './errors'

const shape = { height: 2, width: 3 } // 6 pixels

function failure(run: () => unknown): RleError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(RleError)
    return error as RleError
  }
  throw new Error('expected an RleError, nothing was thrown')
}

describe('decode', () => {
  it('returns 0/1 row-major, numbering pixels column-major from 1 by default', () => {
    expect(decode('1 3', shape)).toEqual(new Uint8Array([1, 1, 0, 1, 0, 0]))
    // pixel 2 is (row 2, col 1); pixel 3 is (row 1, col 2)
    expect(decode('2 1', shape)).toEqual(new Uint8Array([0, 0, 0, 1, 0, 0]))
    expect(decode('3 1', shape)).toEqual(new Uint8Array([0, 1, 0, 0, 0, 0]))
    expect(decode('6 1', shape)).toEqual(new Uint8Array([0, 0, 0, 0, 0, 1]))
  })

  it('numbers pixels row-major on request', () => {
    expect(decode('1 2 4 1', shape, { order: 'row-major' })).toEqual(new Uint8Array([1, 1, 0, 1, 0, 0]))
    expect(decode('2 4', shape, { order: 'row-major' })).toEqual(new Uint8Array([0, 1, 1, 1, 1, 0]))
  })

  it('decodes the empty string (and only whitespace) as an empty mask', () => {
    expect(decode('', shape)).toEqual(new Uint8Array(6))
    expect(decode('  ', shape)).toEqual(new Uint8Array(6))
  })

  it('accepts runs that wrap from one column to the next, and a run ending on the last pixel', () => {
    expect(decode('2 4', shape)).toEqual(new Uint8Array([0, 1, 1, 1, 1, 0]))
    expect(decode('1 6', shape)).toEqual(new Uint8Array(6).fill(1))
  })

  it('tolerates extra whitespace between tokens and around the string', () => {
    expect(decode(' 1  1\t3 2 ', shape)).toEqual(decode('1 1 3 2', shape))
  })

  it('accepts touching runs (unambiguous, though encode never writes them)', () => {
    expect(decode('1 2 3 1', shape)).toEqual(decode('1 3', shape))
  })

  const malformed: Array<[string, string, RleErrorCode, number, number]> = [
    // description, rle, code, token (1-based), offset (0-based character)
    ['odd token count', '1 2 5', 'ODD_TOKEN_COUNT', 3, 4],
    ['a single token', '4', 'ODD_TOKEN_COUNT', 1, 0],
    ['a decimal', '1 2 3 1.5', 'NOT_AN_INTEGER', 4, 6],
    ['a letter', '1 2 x 1', 'NOT_AN_INTEGER', 3, 4],
    ['a number glued to text', '1 2 3a 1', 'NOT_AN_INTEGER', 3, 4],
    ['exponent notation', '1e1 1', 'NOT_AN_INTEGER', 1, 0],
    ['a comma separator', '1,2', 'NOT_AN_INTEGER', 1, 0],
    ['a lone minus sign', '1 -', 'NOT_AN_INTEGER', 2, 2],
    ['start 0', '0 2', 'START_BELOW_ONE', 1, 0],
    ['a negative start', '1 1 -3 1', 'START_BELOW_ONE', 3, 4],
    ['length 0', '1 1 3 0', 'LENGTH_BELOW_ONE', 4, 6],
    ['a negative length', '1 -1', 'LENGTH_BELOW_ONE', 2, 2],
    ['a run past the end', '5 3', 'RUN_PAST_END', 1, 0],
    ['a start past the end', '1 1 7 1', 'RUN_PAST_END', 3, 4],
    ['a huge number', '1 99999999999999999999', 'RUN_PAST_END', 1, 0],
    ['unsorted runs', '4 1 1 2', 'UNSORTED_RUNS', 3, 4],
    ['overlapping runs', '1 3 3 2', 'OVERLAPPING_RUNS', 3, 4],
    ['a repeated run', '2 1 2 1', 'OVERLAPPING_RUNS', 3, 4],
  ]

  it.each(malformed)('refuses %s with a typed error naming the token', (_, rle, code, token, offset) => {
    const error = failure(() => decode(rle, shape))
    expect(error).toMatchObject({ name: 'RleError', code, token, offset })
    expect(error.message).toMatch(new RegExp(`token ${token}\\b`, 'i'))
    expect(error.message).toMatch(new RegExp(`character ${offset}\\b`))
  })

  it('reports the missing token, not the unsorted runs it causes', () => {
    // "10 20" lost its pair partner: 1 3 | 10 20 | 5 → odd count first
    expect(failure(() => decode('1 3 10 20 5', { height: 10, width: 10 })).code).toBe('ODD_TOKEN_COUNT')
  })

  it('checks the end of the mask in row-major order too', () => {
    expect(failure(() => decode('6 2', shape, { order: 'row-major' })).code).toBe('RUN_PAST_END')
  })

  it('refuses a bad shape or order', () => {
    expect(failure(() => decode('', { height: 2, width: -3 })).code).toBe('INVALID_SHAPE')
    expect(failure(() => decode('', shape, { order: 'C' as never })).code).toBe('INVALID_ORDER')
  })

  it('hints at 0-based encoders', () => {
    expect(failure(() => decode('0 2', shape)).message).toMatch(/0-based/)
  })
})

describe('validateRle', () => {
  it('checks the syntax without a shape and the extent with one', () => {
    expect(() => validateRle('1 3 100 2')).not.toThrow()
    expect(failure(() => validateRle('1 3 100 2', shape)).code).toBe('RUN_PAST_END')
    expect(failure(() => validateRle('3 1 1 1')).code).toBe('UNSORTED_RUNS')
  })
})

describe('a huge mask shape (issue 17)', () => {
  it('is an RleError MASK_TOO_LARGE, not an untyped RangeError', () => {
    const shape = { height: 1_000_000, width: 1_000_000 }
    let error: unknown
    try {
      decode('1 1', shape)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(RleError)
    expect(error).toMatchObject({ code: 'MASK_TOO_LARGE', message: expect.stringMatching(/^Cannot hold a 1000000×1000000 mask .* check the shape/) })
    expect((error as RleError).cause).toBeInstanceOf(RangeError)
  })
})
