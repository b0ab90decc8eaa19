import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { encodePng } from './png'

async function decode(png: Uint8Array, depth: 'uchar' | 'ushort' = 'uchar') {
  const img = sharp(png)
  const meta = await img.metadata()
  const { data, info } = await img.raw(depth === 'ushort' ? { depth } : {}).toBuffer({ resolveWithObject: true })
  return { meta, data, info }
}

describe('encodePng', () => {
  it('writes 8-bit grey that a real decoder reads back exactly', async () => {
    const pixels = Float32Array.from({ length: 7 * 5 }, (_, i) => (i * 37) % 256 / 255)
    const png = encodePng(pixels, { width: 7, height: 5, channels: 1 })
    const { meta, data } = await decode(png)
    expect([meta.width, meta.height, meta.channels, meta.depth]).toEqual([7, 5, 1, 'uchar'])
    // sharp hands out grey as three equal channels.
    expect(Array.from({ length: 35 }, (_, i) => data[i * 3])).toEqual(Array.from(pixels, (v) => Math.round(v * 255)))
  })

  it('writes RGB and RGBA from bytes, and 16-bit grey from Uint16Array, keeping precision', async () => {
    const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 53) % 256)
    const a = await decode(encodePng(rgb, { width: 4, height: 3, channels: 3 }))
    expect(a.meta.channels).toBe(3)
    expect(Array.from(a.data)).toEqual(Array.from(rgb))
    const rgba = Uint8Array.from({ length: 2 * 2 * 4 }, (_, i) => 255 - i * 9)
    const b = await decode(encodePng(rgba, { width: 2, height: 2, channels: 4 }))
    expect(b.meta.channels).toBe(4)
    expect(Array.from(b.data)).toEqual(Array.from(rgba))
    const u16 = Uint16Array.from([0, 1, 257, 65535, 12345, 40000])
    const png16 = encodePng(u16, { width: 3, height: 2, channels: 1 })
    const img = sharp(png16)
    expect((await img.metadata()).depth).toBe('ushort')
    const raw = await img.toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer()
    expect(Array.from(new Uint16Array(raw.buffer, raw.byteOffset, 6))).toEqual(Array.from(u16))
  })

  it('clips floats to [0, 1], maps NaN to 0, and checks its arguments', async () => {
    const { data } = await decode(encodePng(new Float32Array([-1, 2, Number.NaN, 0.5]), { width: 4, height: 1, channels: 1 }))
    expect([data[0], data[3], data[6], data[9]]).toEqual([0, 255, 0, 128])
    expect(() => encodePng(new Float32Array(5), { width: 2, height: 2, channels: 1 })).toThrow(/expected 2×2×1 = 4 values, got 5/)
    expect(() => encodePng(new Float32Array(10), { width: 2, height: 1, channels: 5 })).toThrow(/channels must be 1, 2, 3 or 4/)
  })
})
