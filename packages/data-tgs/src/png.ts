import sharp from 'sharp'
import { TgsDataError } from './errors'

/** What a PNG header says about the pixels. */
export interface PngHeader {
  width: number
  height: number
  /** Bits per channel: 1, 2, 4, 8 or 16. */
  bitDepth: number
  /** Channels: 1 (grey), 2 (grey+alpha), 3 (RGB or palette), 4 (RGBA). */
  channels: number
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
// Palette images (type 3) decode to RGB.
const CHANNELS_OF_COLOUR_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 }

/**
 * Reads a PNG's IHDR without decoding pixels. Throws `CORRUPT_PNG` when the
 * bytes are not a PNG.
 *
 * @param bytes - the file's bytes
 * @param file - the file name, for messages
 * @returns size, bit depth and channels
 * @example
 * ```ts
 * readPngHeader(await readFile('train/masks/0a1b2c3d4e.png')) // { width: 101, height: 101, bitDepth: 16, channels: 1 }
 * ```
 */
export function readPngHeader(bytes: Uint8Array, file = 'PNG'): PngHeader {
  const ok =
    bytes.length >= 33 &&
    SIGNATURE.every((b, i) => bytes[i] === b) &&
    String.fromCharCode(bytes[12]!, bytes[13]!, bytes[14]!, bytes[15]!) === 'IHDR'
  const colourType = bytes[25] ?? -1
  const channels = CHANNELS_OF_COLOUR_TYPE[colourType]
  if (!ok || channels === undefined) {
    throw new TgsDataError('CORRUPT_PNG', `${file} is not a PNG file (bad signature or header); re-download or delete it.`, {
      file,
    })
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { width: view.getUint32(16), height: view.getUint32(20), bitDepth: bytes[24]!, channels }
}

/** A decoded single-channel PNG. */
export interface DecodedPng {
  /** Row-major grey values in [0, 1] (the first channel; TGS images have three equal channels). */
  pixels: Float32Array
  width: number
  height: number
  bitDepth: number
  channels: number
}

/**
 * Decodes a PNG (8 or 16 bit, 1 to 4 channels) to one channel of Float32 in [0, 1].
 * Throws `CORRUPT_PNG` naming `file` when sharp cannot decode it.
 *
 * @param bytes - the PNG file's bytes
 * @param file - the file name, for messages
 * @returns grey values in [0, 1] with the size and format found
 * @example
 * ```ts
 * const { pixels, width, height } = await decodePng(await readFile('train/images/0a1b2c3d4e.png'))
 * ```
 */
export async function decodePng(bytes: Uint8Array, file = 'PNG'): Promise<DecodedPng> {
  const header = readPngHeader(bytes, file)
  const { width, height } = header
  const n = width * height
  const pixels = new Float32Array(n)
  try {
    if (header.bitDepth === 8) {
      // The first channel: the channels of TGS images are equal (sharp outputs grey as sRGB otherwise).
      const raw = await sharp(bytes).extractChannel(0).raw().toBuffer()
      if (raw.length !== n) throw new Error(`decoded ${raw.length} values for ${width}x${height}`)
      for (let i = 0; i < n; i++) pixels[i] = raw[i]! / 255
    } else {
      // 16-bit (and 1/2/4-bit) images: sharp's grey16 path scales every depth to 0…65535.
      const raw = await sharp(bytes).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer()
      if (raw.length !== 2 * n) throw new Error(`decoded ${raw.length / 2} values for ${width}x${height}`)
      const u16 = new Uint16Array(raw.buffer, raw.byteOffset, n)
      for (let i = 0; i < n; i++) pixels[i] = u16[i]! / 65535
    }
  } catch (cause) {
    throw new TgsDataError(
      'CORRUPT_PNG',
      `${file} could not be decoded (${(cause as Error).message}); the file is damaged: re-download or delete it.`,
      { cause, file },
    )
  }
  return { pixels, width, height, bitDepth: header.bitDepth, channels: header.channels }
}

/**
 * Encodes grey values in [0, 1] as a PNG: 8-bit (TGS images) or 16-bit (TGS
 * masks), one channel or three equal ones.
 *
 * @param pixels - row-major values in [0, 1] (a 0/1 mask is fine)
 * @param width - image width
 * @param height - image height
 * @param bitDepth - 8 or 16
 * @param channels - 1 (grey) or 3 (three equal channels)
 * @returns the PNG file bytes
 * @example
 * ```ts
 * const png = await encodePng(mask, 101, 101, 16) // 0 / 65535, like Kaggle's masks
 * ```
 */
export async function encodePng(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
  bitDepth: 8 | 16 = 8,
  channels: 1 | 3 = 1,
): Promise<Buffer> {
  const n = width * height
  if (channels === 3) {
    // Three equal channels, as in the Kaggle TGS image files.
    const rgb = new Uint8Array(3 * n)
    for (let i = 0; i < n; i++) rgb.fill(Math.round(clamp01(pixels[i]!) * 255), 3 * i, 3 * i + 3)
    if (bitDepth === 8) return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer()
    const rgb16 = new Uint16Array(3 * n)
    for (let i = 0; i < n; i++) rgb16.fill(Math.round(clamp01(pixels[i]!) * 65535), 3 * i, 3 * i + 3)
    return sharp(rgb16, { raw: { width, height, channels: 3 } }).toColourspace('rgb16').png().toBuffer()
  }
  if (bitDepth === 16) {
    const u16 = new Uint16Array(n)
    for (let i = 0; i < n; i++) u16[i] = Math.round(clamp01(pixels[i]!) * 65535)
    return sharp(u16, { raw: { width, height, channels: 1 } }).toColourspace('grey16').png().toBuffer()
  }
  const u8 = new Uint8Array(n)
  for (let i = 0; i < n; i++) u8[i] = Math.round(clamp01(pixels[i]!) * 255)
  return sharp(u8, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer()
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v
}
