import { DataError, decodeImage } from '@unet/data'
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
    throw new TgsDataError('CORRUPT_PNG', `${file} is not a PNG file (bad signature or header); re-download or delete it.`, { file })
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
 * Decodes a TGS PNG (8 or 16 bit, 1 to 4 channels) to one channel of Float32
 * in [0, 1] (through `@unet/data`'s `decodeImage`, keeping 16-bit precision).
 * Throws `CORRUPT_PNG` naming `file` when it is not a PNG or cannot be decoded.
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
  let decoded
  try {
    decoded = await decodeImage(bytes, file)
  } catch (cause) {
    if (cause instanceof DataError) throw new TgsDataError('CORRUPT_PNG', cause.message, { cause, file })
    throw cause
  }
  const { width, height, channels, data } = decoded
  if (width !== header.width || height !== header.height) {
    throw new TgsDataError('CORRUPT_PNG', `${file} decoded to ${width}×${height} but its header says ${header.width}×${header.height}; the file is damaged.`, { file })
  }
  // The first channel: the channels of TGS images are equal.
  const pixels = channels === 1 ? data : Float32Array.from({ length: width * height }, (_, i) => data[i * channels]!)
  return { pixels, width, height, bitDepth: header.bitDepth, channels: header.channels }
}
