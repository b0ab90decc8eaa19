import { zlibSync } from 'fflate'
import { checkOption } from './errors'

/** Size and channels of an interleaved image: `height × width × channels` values, row-major. */
export interface ImageSize {
  width: number
  height: number
  /** 1 (grey), 2 (grey + alpha), 3 (RGB), 4 (RGBA). */
  channels: number
}

/** Options of {@link encodePng}. */
export interface EncodePngOptions {
  /** 8 (default for Float32Array and Uint8Array input) or 16 (default for Uint16Array input). */
  bitDepth?: 8 | 16
  /** zlib level 0…9 (default 6). */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9
}

const COLOUR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 }

let crcTable: Uint32Array | undefined

function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  let c = 0xffffffff
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/**
 * Encodes an interleaved image as a PNG file, in pure TypeScript (zlib through
 * fflate), so node, the notebook and the browser write the same bytes.
 * Float32Array values are taken as [0, 1] (clipped, rounded); Uint8Array as
 * 8-bit and Uint16Array as 16-bit samples.
 *
 * @param pixels - `height × width × channels` values, row-major, channels interleaved
 * @param size - width, height and channels (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA)
 * @param options - `bitDepth` (8 or 16), zlib `level`
 * @returns the PNG file bytes
 * @example
 * ```ts
 * const png = encodePng(new Float32Array([0, 0.5, 1, 1]), { width: 2, height: 2, channels: 1 })
 * ```
 */
export function encodePng(
  pixels: Float32Array | Uint8Array | Uint8ClampedArray | Uint16Array | ArrayLike<number>,
  size: ImageSize,
  options: EncodePngOptions = {},
): Uint8Array {
  const { width, height, channels } = size
  const colourType = COLOUR_TYPE[channels]
  checkOption(colourType !== undefined, `encodePng: channels must be 1, 2, 3 or 4, got ${channels}`)
  checkOption(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0, `encodePng: width and height must be positive integers, got ${width}×${height}`)
  checkOption(pixels.length === width * height * channels, `encodePng: expected ${width}×${height}×${channels} = ${width * height * channels} values, got ${pixels.length}`)
  const bitDepth = options.bitDepth ?? (pixels instanceof Uint16Array ? 16 : 8)
  checkOption(bitDepth === 8 || bitDepth === 16, `encodePng: bitDepth must be 8 or 16, got ${String(bitDepth)}`)
  const bytesPerSample = bitDepth / 8
  const max = bitDepth === 8 ? 255 : 65535
  const toSample: (v: number) => number =
    pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray
      ? bitDepth === 8
        ? (v) => v
        : (v) => v * 257
      : pixels instanceof Uint16Array
        ? bitDepth === 16
          ? (v) => v
          : (v) => Math.round(v / 257)
        : (v) => Math.round((v < 0 ? 0 : v > 1 ? 1 : v !== v ? 0 : v) * max)

  // Raw scanlines, each with the Sub filter (byte minus the byte one pixel to the left): cheap and good on photos and masks.
  const stride = width * channels * bytesPerSample
  const bpp = channels * bytesPerSample
  const raw = new Uint8Array((stride + 1) * height)
  const line = new Uint8Array(stride)
  for (let y = 0; y < height; y++) {
    const base = y * width * channels
    if (bytesPerSample === 1) for (let i = 0; i < stride; i++) line[i] = toSample(pixels[base + i]!)
    else {
      for (let i = 0; i < width * channels; i++) {
        const v = toSample(pixels[base + i]!)
        line[2 * i] = v >>> 8
        line[2 * i + 1] = v & 0xff
      }
    }
    const o = y * (stride + 1)
    raw[o] = 1
    for (let i = 0; i < stride; i++) raw[o + 1 + i] = (line[i]! - (i >= bpp ? line[i - bpp]! : 0)) & 0xff
  }
  const idat = zlibSync(raw, { level: options.level ?? 6 })

  const ihdr = new Uint8Array(13)
  const view = new DataView(ihdr.buffer)
  view.setUint32(0, width)
  view.setUint32(4, height)
  ihdr.set([bitDepth, colourType!, 0, 0, 0], 8)
  const chunks: Array<[string, Uint8Array]> = [['IHDR', ihdr], ['IDAT', idat], ['IEND', new Uint8Array(0)]]
  const total = 8 + chunks.reduce((n, [, data]) => n + 12 + data.length, 0)
  const out = new Uint8Array(total)
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0)
  const outView = new DataView(out.buffer)
  let at = 8
  for (const [type, data] of chunks) {
    outView.setUint32(at, data.length)
    for (let i = 0; i < 4; i++) out[at + 4 + i] = type.charCodeAt(i)
    out.set(data, at + 8)
    outView.setUint32(at + 8 + data.length, crc32(out, at + 4, at + 8 + data.length))
    at += 12 + data.length
  }
  return out
}
