import { decompressFrames, parseGIF } from 'gifuct-js'
import sharp from 'sharp'
import { DataError } from './errors'

/** A decoded image: interleaved Float32 in [0, 1] at its own size. */
export interface DecodedImage {
  /** `height × width × channels` values, row-major, channels interleaved. */
  data: Float32Array
  width: number
  height: number
  /** 1 (grey) or 3 (RGB); alpha is dropped. */
  channels: number
  /** Bits per sample in the file: 8 or 16. */
  bitDepth: number
  /** What sharp found: `png`, `jpeg`, `gif`, `webp`, `tiff`, … */
  format: string
  /** Size in the file, after EXIF orientation (differs from width × height only with `resize`). */
  original: { width: number; height: number }
}

/** What a file's header says, read without decoding pixels. */
export interface ImageHeader {
  /** Width and height after EXIF orientation. */
  width: number
  height: number
  channels: number
  bitDepth: number
  format: string
}

/** Options of {@link decodeImage}. */
export interface DecodeImageOptions {
  /**
   * Resize while decoding with sharp (fast: JPEG shrink-on-load, sharp's thread
   * pool), e.g. to fill an on-disk cache. Its kernel differs from
   * {@link prepareImage}'s, so predictions should go through `prepareImage`.
   */
  resize?: { width: number; height: number; kernel?: 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos3' }
}

function corrupt(file: string, cause: unknown): DataError {
  const message = (cause as Error).message ?? String(cause)
  return new DataError('CORRUPT_IMAGE', `${file} could not be decoded (${message}); the file is damaged or not an image: re-download or delete it.`, {
    cause,
    file,
  })
}

async function metadata(bytes: Uint8Array, file: string): Promise<sharp.Metadata> {
  if (bytes.length === 0) throw new DataError('CORRUPT_IMAGE', `${file} is empty (0 bytes); re-download or delete it.`, { file })
  try {
    return await sharp(bytes).metadata()
  } catch (cause) {
    throw corrupt(file, cause)
  }
}

/**
 * Reads an image file's size and format from its header, without decoding the pixels.
 *
 * @param bytes - the file's bytes
 * @param file - the file name, for messages
 * @returns width and height (after EXIF orientation), channels, bit depth and format
 * @example
 * ```ts
 * const { width, height } = await readImageHeader(await readFile('train/0cdf5b5d0ce1_01.jpg'), 'train/0cdf5b5d0ce1_01.jpg')
 * ```
 */
export async function readImageHeader(bytes: Uint8Array, file = 'image'): Promise<ImageHeader> {
  const m = await metadata(bytes, file)
  const turned = (m.orientation ?? 1) >= 5
  return {
    width: turned ? m.height! : m.width!,
    height: turned ? m.width! : m.height!,
    channels: m.channels ?? 3,
    bitDepth: m.depth === 'ushort' ? 16 : 8,
    format: m.format ?? 'unknown',
  }
}

/**
 * Decodes an image file through sharp (PNG 8/16-bit grey/RGB/palette, JPEG,
 * GIF (first frame), WebP, TIFF) into Float32 in [0, 1]: EXIF orientation
 * applied, alpha dropped, grey kept as one channel, RGB as three, 16-bit
 * precision kept until scaled. A damaged or truncated file throws
 * `CORRUPT_IMAGE` naming `file`.
 *
 * @param bytes - the file's bytes
 * @param file - the file name, for messages
 * @param options - `resize` while decoding (see {@link DecodeImageOptions})
 * @returns pixels, size, channels and format
 * @example
 * ```ts
 * const { data, width, height, channels } = await decodeImage(await readFile('images/fluke.jpg'), 'images/fluke.jpg')
 * ```
 */
export async function decodeImage(bytes: Uint8Array, file = 'image', options: DecodeImageOptions = {}): Promise<DecodedImage> {
  const m = await metadata(bytes, file)
  const turned = (m.orientation ?? 1) >= 5
  const original = { width: turned ? m.height! : m.width!, height: turned ? m.width! : m.height! }
  const sixteen = m.depth === 'ushort'
  // Grey files (1 channel, or grey + alpha) stay one channel; sharp would otherwise hand out sRGB.
  const grey = (m.channels ?? 3) <= 2
  try {
    let pipeline = sharp(bytes, { failOn: 'truncated', pages: 1 }).rotate().removeAlpha()
    if (options.resize) {
      pipeline = pipeline.resize({ width: options.resize.width, height: options.resize.height, fit: 'fill', kernel: options.resize.kernel ?? 'linear' })
    }
    if (grey) pipeline = pipeline.toColourspace(sixteen ? 'grey16' : 'b-w')
    else if (sixteen) pipeline = pipeline.toColourspace('rgb16')
    const { data: raw, info } = await pipeline.raw(sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true })
    const n = info.width * info.height * info.channels
    const data = new Float32Array(n)
    if (sixteen) {
      const u16 = new Uint16Array(raw.buffer, raw.byteOffset, n)
      for (let i = 0; i < n; i++) data[i] = u16[i]! / 65535
    } else {
      for (let i = 0; i < n; i++) data[i] = raw[i]! / 255
    }
    return { data, width: info.width, height: info.height, channels: info.channels, bitDepth: sixteen ? 16 : 8, format: m.format ?? 'unknown', original }
  } catch (cause) {
    throw corrupt(file, cause)
  }
}

/** Options of {@link decodeMask}. */
export interface DecodeMaskOptions {
  /**
   * Foreground where the value is above this, in 8-bit units (0…255; 16-bit
   * files are scaled): `108` for the whale-fluke JPEG masks. Without it the mask
   * must be binary (0 and one other value), else `NON_BINARY_MASK`.
   */
  threshold?: number
}

/** A decoded 0/1 mask. */
export interface DecodedMask {
  /** `height × width` 0/1 values. */
  data: Uint8Array
  width: number
  height: number
  format: string
}

/**
 * Decodes a mask file to 0/1. Palette images (GIF, palette PNG) go by palette
 * entry: with black among the colours used, every other colour is foreground
 * (Carvana: index 0 black, index 1 white = car), else any non-zero index;
 * other images use the largest channel value.
 * Without a `threshold`, a mask with more than two values is refused
 * (`NON_BINARY_MASK`), naming the file and the values found.
 *
 * @param bytes - the file's bytes
 * @param file - the file name, for messages
 * @param options - `threshold` in 8-bit units
 * @returns the 0/1 mask and its size
 * @example
 * ```ts
 * const { data } = await decodeMask(await readFile('masks/fluke.jpg'), 'masks/fluke.jpg', { threshold: 108 })
 * ```
 */
export async function decodeMask(bytes: Uint8Array, file = 'mask', options: DecodeMaskOptions = {}): Promise<DecodedMask> {
  const m = await metadata(bytes, file)
  let values: Float32Array | Uint16Array
  // Palette masks: the indices used, for messages.
  let paletteUsed: number[] | undefined
  let paletteIndices: Uint8Array | undefined
  let width: number
  let height: number
  let scale: number
  if (m.format === 'gif') {
    const gif = decodeGifIndices(bytes, file)
    ;({ width, height } = gif)
    values = paletteValues(gif.values, gif.palette)
    paletteIndices = gif.values
    paletteUsed = [...new Set(gif.values)].sort((a, b) => a - b)
    scale = 1
  } else {
    const palette = m.format === 'png' && m.isPalette ? readPngPalette(bytes) : undefined
    const img = await decodeImage(bytes, file)
    width = img.width
    height = img.height
    const c = img.channels
    const n = width * height
    if (palette !== undefined) {
      // Back from colours to palette indices (the first index of a colour wins).
      const index = new Map<number, number>()
      for (let i = palette.length - 1; i >= 0; i--) index.set(palette[i]!, i)
      const indices = new Uint8Array(n)
      for (let i = 0; i < n; i++) {
        const key = (Math.round(img.data[i * c]! * 255) << 16) | (Math.round(img.data[i * c + 1]! * 255) << 8) | Math.round(img.data[i * c + 2]! * 255)
        indices[i] = index.get(key) ?? 255
      }
      values = paletteValues(indices, palette)
      paletteIndices = indices
      paletteUsed = [...new Set(indices)].sort((a, b) => a - b)
      scale = 1
    } else {
      values = new Float32Array(n)
      for (let i = 0; i < n; i++) {
        let v = 0
        for (let k = 0; k < c; k++) v = Math.max(v, img.data[i * c + k]!)
        values[i] = v
      }
      scale = 255
    }
  }
  const data = new Uint8Array(width * height)
  if (options.threshold !== undefined) {
    const t = options.threshold
    // Palette masks compare the index itself.
    const by = paletteIndices ?? values
    for (let i = 0; i < data.length; i++) data[i] = by[i]! * scale > t ? 1 : 0
  } else {
    let other: number | undefined
    const seen = new Set<number>()
    for (let i = 0; i < data.length; i++) {
      const v = values[i]!
      if (v === 0) continue
      data[i] = 1
      if (other === undefined) other = v
      else if (v !== other && seen.size < 8) seen.add(v)
    }
    if (seen.size > 0 && paletteUsed !== undefined) {
      throw new DataError(
        'NON_BINARY_MASK',
        `${file} is not a binary mask: it uses palette indices ${paletteUsed.slice(0, 6).join(', ')}${paletteUsed.length > 6 ? ', …' : ''} with more than one non-black colour; give a mask threshold (foreground = index > threshold), or save the mask with two colours.`,
        { file },
      )
    }
    if (seen.size > 0) {
      const found = [0, other!, ...seen].map((v) => (scale === 255 ? Math.round(v * 255) : v))
      throw new DataError(
        'NON_BINARY_MASK',
        `${file} is not a binary mask: it holds values ${found.slice(0, 6).join(', ')}${found.length > 6 ? ', …' : ''}; give a mask threshold (e.g. 108 for JPEG masks: foreground = value > 108).`,
        { file },
      )
    }
  }
  return { data, width, height, format: m.format ?? 'unknown' }
}

/**
 * Palette indices to mask values: when black is among the colours used, every
 * other colour is foreground (what the mask looks like, whichever index a tool
 * gave white: Carvana's GIFs use 0 black, 1 white; sharp's may put white at 0);
 * otherwise the index itself (non-zero = foreground). Distinct colours keep
 * distinct values, so a mask of three colours is still found not binary.
 */
function paletteValues(indices: Uint8Array, palette: readonly number[]): Uint16Array {
  const used = new Set(indices)
  const blackUsed = [...used].some((i) => palette[i] === 0)
  const values = new Uint16Array(indices.length)
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i]!
    values[i] = blackUsed ? (palette[k] === 0 ? 0 : k + 1) : k
  }
  return values
}

function decodeGifIndices(bytes: Uint8Array, file: string): { values: Uint8Array; width: number; height: number; palette: number[] } {
  try {
    const gif = parseGIF(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer)
    const frames = decompressFrames(gif, false)
    const frame = frames[0]
    if (frame === undefined) throw new Error('no frame')
    const width = gif.lsd.width
    const height = gif.lsd.height
    const values = new Uint8Array(width * height)
    const { left, top, width: fw, height: fh } = frame.dims
    const transparent = frame.transparentIndex
    for (let y = 0; y < fh; y++) {
      for (let x = 0; x < fw; x++) {
        const v = frame.pixels[y * fw + x]!
        const X = left + x
        const Y = top + y
        if (X < width && Y < height && v !== transparent) values[Y * width + X] = v
      }
    }
    if (frame.pixels.length < fw * fh) throw new Error(`frame holds ${frame.pixels.length} of ${fw * fh} pixels (truncated)`)
    const palette = frame.colorTable.map(([r, g, b]) => (r << 16) | (g << 8) | b)
    return { values, width, height, palette }
  } catch (cause) {
    throw corrupt(file, cause)
  }
}

/** The PLTE chunk of a palette PNG as 0xRRGGBB integers. */
function readPngPalette(bytes: Uint8Array): number[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 8
  while (at + 8 <= bytes.length) {
    const length = view.getUint32(at)
    const type = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!)
    if (type === 'PLTE') {
      const out: number[] = []
      for (let i = 0; i + 2 < length; i += 3) out.push((bytes[at + 8 + i]! << 16) | (bytes[at + 9 + i]! << 8) | bytes[at + 10 + i]!)
      return out
    }
    if (type === 'IDAT') return undefined
    at += 12 + length
  }
  return undefined
}
