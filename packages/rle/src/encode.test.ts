import { describe, expect, it } from 'vitest'
import { decode } from './decode'
import { encode } from './encode'
import { RleError } from './errors'
import type { MaskShape, PixelOrder } from './shape'
import { seededRandom as random } from '@unet/testing'


/** A slow, obviously-correct reference: list the on pixels by their 1-based number, then group consecutive ones. */
function referenceEncode(mask: ArrayLike<number>, { height, width }: MaskShape, order: PixelOrder): string {
  const on: number[] = []
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      if (mask[r * width + c] !== 0) on.push(order === 'column-major' ? c * height + r + 1 : r * width + c + 1)
    }
  }
  on.sort((a, b) => a - b)
  const pairs: string[] = []
  for (let k = 0; k < on.length; ) {
    let j = k
    while (j + 1 < on.length && on[j + 1] === (on[j] as number) + 1) j++
    pairs.push(`${on[k]} ${j - k + 1}`)
    k = j + 1
  }
  return pairs.join(' ')
}

/** Index of the first difference, or -1: far cheaper than a deep toEqual on 10,000-element typed arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length)
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i
  return -1
}

function blobMask(shape: MaskShape, next: () => number): Uint8Array {
  // Runs of random length, so masks look like segmentation output rather than noise.
  const mask = new Uint8Array(shape.height * shape.width)
  let value = next() < 0.5 ? 1 : 0
  for (let i = 0; i < mask.length; ) {
    const run = 1 + Math.floor(next() * 12)
    mask.fill(value, i, i + run)
    i += run
    value = 1 - value
  }
  return mask
}

describe('encode', () => {
  // 2 × 3, row-major storage:
  //   1 1 0
  //   1 0 0
  const mask = [1, 1, 0, 1, 0, 0]
  const shape = { height: 2, width: 3 }

  it('numbers pixels top to bottom, then left to right, from 1 (Kaggle TGS) by default', () => {
    expect(encode(mask, shape)).toBe('1 3')
    expect(encode([0, 1, 0, 0, 0, 0], shape)).toBe('3 1')
    expect(encode([0, 0, 0, 1, 0, 0], shape)).toBe('2 1')
  })

  it('numbers pixels left to right, then top to bottom, in row-major order', () => {
    expect(encode(mask, shape, { order: 'row-major' })).toBe('1 2 4 1')
    expect(encode([0, 0, 1, 1, 0, 0], shape, { order: 'row-major' })).toBe('3 2')
  })

  it('treats any non-zero value as foreground', () => {
    expect(encode([255, 0.5, 0, -1, 0, 0], shape)).toBe('1 3')
    expect(encode(new Float32Array([0, 0, 0, 0, 0, 1e-30]), shape)).toBe('6 1')
  })

  it('encodes an empty mask as the empty string and a full one as a single run', () => {
    expect(encode(new Uint8Array(6), shape)).toBe('')
    expect(encode(new Uint8Array(6).fill(1), shape)).toBe('1 6')
    expect(encode(new Uint8Array(6).fill(1), shape, { order: 'row-major' })).toBe('1 6')
  })

  it('closes a run that reaches the last pixel', () => {
    expect(encode([0, 0, 0, 0, 1, 1], shape, { order: 'row-major' })).toBe('5 2')
    expect(encode([0, 0, 1, 0, 0, 1], shape)).toBe('5 2')
  })

  it('matches a reference encoder and round-trips through decode on random masks', () => {
    const next = random(7)
    for (const shape of [
      { height: 101, width: 101 },
      { height: 1, width: 17 },
      { height: 13, width: 1 },
      { height: 7, width: 31 },
    ]) {
      for (const order of ['column-major', 'row-major'] as const) {
        for (let k = 0; k < 8; k++) {
          const m = blobMask(shape, next)
          const rle = encode(m, shape, { order })
          expect(rle).toBe(referenceEncode(m, shape, order))
          expect(firstDifference(decode(rle, shape, { order }), m)).toBe(-1)
        }
      }
    }
  })

  it('gives the same result on the byte fast path as on other array types', () => {
    const next = random(11)
    const shapes = [
      { height: 101, width: 101 },
      { height: 5, width: 4 },
      { height: 9, width: 8 },
      { height: 6, width: 3 },
      { height: 7, width: 2 },
      { height: 3, width: 13 },
    ]
    const values = [0, 1, 255, 7]
    for (const shape of shapes) {
      const n = shape.height * shape.width
      for (let k = 0; k < 12; k++) {
        // Blobs of mixed non-zero values (a 1 → 255 step is no edge), or pure noise (an edge at every pixel).
        const noise = k % 3 === 0
        const blobs = blobMask(shape, next)
        const generic = Array.from({ length: n }, (_, i) =>
          noise ? (values[Math.floor(next() * 4)] as number) : (blobs[i] as number) * (values[1 + Math.floor(next() * 3)] as number),
        )
        // An odd byte offset inside a larger buffer, as a Node Buffer slice would have.
        const backing = new Uint8Array(n + 3)
        const bytes = backing.subarray(1, n + 1)
        bytes.set(generic)
        for (const order of ['column-major', 'row-major'] as const) {
          const expected = referenceEncode(generic, shape, order)
          expect(encode(generic, shape, { order })).toBe(expected)
          expect(encode(bytes, shape, { order })).toBe(expected)
          expect(encode(new Uint8ClampedArray(generic), shape, { order })).toBe(expected)
          expect(encode(Float32Array.from(generic), shape, { order })).toBe(expected)
        }
      }
    }
  })

  it('encodes masks bigger than the scratch space it keeps between calls', () => {
    const shape = { height: 3, width: 1_500_000 } // 4.5 M pixels, 6 M column events
    const mask = new Uint8Array(shape.height * shape.width)
    mask.fill(1, 0, 2) // row 0, columns 0–1
    mask.fill(1, shape.width, shape.width + 1) // row 1, column 0
    mask[mask.length - 1] = 1 // last pixel
    expect(encode(mask, shape)).toBe(`1 2 4 1 ${mask.length} 1`)
    expect(encode(new Uint8Array(12).fill(1), { height: 3, width: 4 })).toBe('1 12') // and small ones after
  })

  it('refuses a mask whose length is not height × width', () => {
    const error = (() => {
      try {
        encode([1, 0, 1], shape)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(RleError)
    expect(error).toMatchObject({ name: 'RleError', code: 'MASK_SIZE_MISMATCH' })
    expect((error as Error).message).toMatch(/3 values as 2×3 = 6 pixels/)
  })

  it('refuses a bad shape or order', () => {
    expect(() => encode([], { height: 0, width: 3 })).toThrow(expect.objectContaining({ code: 'INVALID_SHAPE' }))
    expect(() => encode([1], { height: 1.5, width: 1 } as MaskShape)).toThrow(expect.objectContaining({ code: 'INVALID_SHAPE' }))
    expect(() => encode(mask, shape, { order: 'F' as PixelOrder })).toThrow(expect.objectContaining({ code: 'INVALID_ORDER' }))
  })
})
