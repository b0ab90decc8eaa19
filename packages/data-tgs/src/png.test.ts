import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { TgsDataError } from './errors'
import { encodePng } from '@unet/data'
import { decodePng, readPngHeader } from './png'

const W = 7
const H = 5
const values = Float32Array.from({ length: W * H }, (_, i) => (i * 37) % 256 / 255)

describe('PNG decode (files written by @unet/data encodePng and by sharp)', () => {
  it('round-trips 8-bit images exactly', async () => {
    const png = encodePng(values, { width: W, height: H, channels: 1 }, { bitDepth: 8 })
    expect(readPngHeader(png)).toEqual({ width: W, height: H, bitDepth: 8, channels: 1 })
    expect((await decodePng(png)).pixels).toEqual(values)
  })

  it('reads 16-bit masks (0/65535) and 8-bit masks (0/255) to the same values', async () => {
    const mask = Float32Array.from({ length: W * H }, (_, i) => (i % 3 === 0 ? 1 : 0))
    const m16 = encodePng(mask, { width: W, height: H, channels: 1 }, { bitDepth: 16 })
    const m8 = encodePng(mask, { width: W, height: H, channels: 1 }, { bitDepth: 8 })
    expect(readPngHeader(m16).bitDepth).toBe(16)
    expect((await decodePng(m16)).pixels).toEqual(mask)
    expect((await decodePng(m8)).pixels).toEqual(mask)
  })

  it('keeps full 16-bit precision', async () => {
    const ramp = Uint16Array.from({ length: W * H }, (_, i) => i * 1871)
    const png = await sharp(ramp, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').png().toBuffer()
    const { pixels } = await decodePng(png)
    expect(Array.from(pixels, (v) => Math.round(v * 65535))).toEqual(Array.from(ramp))
  })

  it('reads the first channel of 3-channel images', async () => {
    const rgb = new Uint8Array(W * H * 3)
    for (let i = 0; i < W * H; i++) rgb.fill(Math.round(values[i]! * 255), 3 * i, 3 * i + 3)
    const png = await sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer()
    const decoded = await decodePng(png)
    expect(decoded.channels).toBe(3)
    expect(decoded.pixels).toEqual(values)
  })

  it('names the file of a damaged PNG', async () => {
    const png = encodePng(values, { width: W, height: H, channels: 1 }, { bitDepth: 8 })
    await expect(decodePng(Buffer.from('not a png at all, not even close to one'), 'x/a.png')).rejects.toThrow(/x\/a\.png is not a PNG/)
    const error = await decodePng(png.subarray(0, png.length - 20), 'x/b.png').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TgsDataError)
    expect((error as TgsDataError).code).toBe('CORRUPT_PNG')
    expect((error as TgsDataError).message).toMatch(/x\/b\.png could not be decoded/)
  })
})
