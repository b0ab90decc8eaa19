import type { ImagePixels } from '../prepare'

/** A decoded image: values in [0, 1], one channel when every pixel is grey (R = G = B), else three. */
export interface DecodedImage extends ImagePixels {
  channels: 1 | 3
}

/**
 * Decodes a PNG, JPEG, GIF (first frame) or WebP file with the browser's own decoders, as stored: no colour
 * management, no premultiplied alpha, alpha dropped. Works in a worker (createImageBitmap + OffscreenCanvas).
 * Note 8 bits per channel: a 16-bit PNG is read at 8 bits, as browsers do.
 */
export async function decodeImage(file: Blob): Promise<DecodedImage> {
  let bitmap: ImageBitmap
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' })
  } catch (cause) {
    throw new Error(`cannot decode this file as a PNG, JPEG, GIF or WebP image (${cause instanceof Error ? cause.message : String(cause)})`, { cause })
  }
  try {
    const { width, height } = bitmap
    const canvas = new OffscreenCanvas(width, height)
    const context = canvas.getContext('2d', { willReadFrequently: true })
    if (!context) throw new Error('no 2D canvas to read pixels with')
    context.drawImage(bitmap, 0, 0)
    const rgba = context.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data
    const n = width * height
    let grey = true
    for (let i = 0; i < n && grey; i++) grey = rgba[4 * i] === rgba[4 * i + 1] && rgba[4 * i] === rgba[4 * i + 2]
    const channels = grey ? 1 : 3
    const data = new Float32Array(n * channels)
    if (grey) for (let i = 0; i < n; i++) data[i] = rgba[4 * i]! / 255
    else for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[3 * i + c] = rgba[4 * i + c]! / 255
    return { data, width, height, channels }
  } finally {
    bitmap.close()
  }
}
