// Datasets made in code for the end-to-end tests: a Carvana-like layout (RGB JPEG photos, GIF palette masks,
// non-square) and a whale-fluke-like folder pair (RGB JPEGs of varying size, JPEG masks that need a threshold).
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'

/**
 * A GIF of palette indices 0…3 (Carvana's masks are palette GIFs: 0 background, 1 car). The LZW stream restarts
 * (clear code) before every second pixel, so the code table never grows past 3-bit codes: valid, if not small.
 */
export function paletteGif(indices: Uint8Array, width: number, height: number): Uint8Array {
  const out: number[] = [...Buffer.from('GIF89a')]
  const word = (v: number): void => void out.push(v & 255, (v >> 8) & 255)
  word(width)
  word(height)
  out.push(0b1000_0001, 0, 0) // a global table of 4 colours
  out.push(0, 0, 0, 255, 255, 255, 128, 128, 128, 64, 64, 64)
  out.push(0x2c)
  word(0)
  word(0)
  word(width)
  word(height)
  out.push(0, 2) // no local table; LZW minimum code size 2: clear 4, end 5
  let bits = 0
  let used = 0
  const stream: number[] = []
  const put = (code: number): void => {
    bits |= code << used
    used += 3
    while (used >= 8) {
      stream.push(bits & 255)
      bits >>= 8
      used -= 8
    }
  }
  indices.forEach((v, i) => {
    if (i % 2 === 0) put(4)
    put(v)
  })
  put(5)
  if (used > 0) stream.push(bits & 255)
  for (let i = 0; i < stream.length; i += 255) {
    const block = stream.slice(i, i + 255)
    out.push(block.length, ...block)
  }
  out.push(0, 0x3b)
  return Uint8Array.from(out)
}

/** A photo-like RGB picture: an orange blob (the object) of seeded place and size on a textured blue ground. */
export function blobPicture(width: number, height: number, seed: number): { rgb: Uint8Array; mask: Uint8Array } {
  const rgb = new Uint8Array(width * height * 3)
  const mask = new Uint8Array(width * height)
  const cx = width * (0.3 + 0.4 * (((seed * 37) % 10) / 10))
  const cy = height * (0.35 + 0.3 * (((seed * 53) % 10) / 10))
  const rx = width * (0.15 + 0.1 * (((seed * 17) % 10) / 10))
  const ry = height * (0.2 + 0.1 * (((seed * 29) % 10) / 10))
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < 1
      const texture = ((x * 7 + y * 13 + seed * 5) % 23) * 2
      mask[y * width + x] = inside ? 1 : 0
      rgb.set(inside ? [210 - texture, 110 + texture, 40] : [50 + texture, 80, 170 - texture], (y * width + x) * 3)
    }
  }
  return { rgb, mask }
}

const jpeg = (rgb: Uint8Array, width: number, height: number, channels: 1 | 3, quality = 92): Promise<Buffer> =>
  sharp(rgb, { raw: { width, height, channels } }).jpeg({ quality }).toBuffer()

/** Carvana's layout: train/<car>_<nn>.jpg and train_masks/<car>_<nn>_mask.gif, `cars × views` photos of width × height. */
export async function writeCarvanaLike(dir: string, options: { cars: number; views: number; width: number; height: number }): Promise<void> {
  await mkdir(join(dir, 'train'), { recursive: true })
  await mkdir(join(dir, 'train_masks'), { recursive: true })
  let seed = 0
  for (let car = 0; car < options.cars; car++) {
    const carId = `c${String(car).padStart(3, '0')}ar${(car * 2654435761) % 100000}`
    for (let view = 1; view <= options.views; view++) {
      const id = `${carId}_${String(view).padStart(2, '0')}`
      const { rgb, mask } = blobPicture(options.width, options.height, seed++)
      await writeFile(join(dir, 'train', `${id}.jpg`), await jpeg(rgb, options.width, options.height, 3))
      await writeFile(join(dir, 'train_masks', `${id}_mask.gif`), paletteGif(mask, options.width, options.height))
    }
  }
}

/** Whale flukes: images/<name>.jpg RGB of varying sizes, masks/<name>.jpg grey JPEGs (0/255 blurred by JPEG: threshold 108); `emptyMasks`: no fluke in any mask. */
export async function writeWhaleLike(dir: string, count: number, options: { emptyMasks?: boolean } = {}): Promise<void> {
  await mkdir(join(dir, 'images'), { recursive: true })
  await mkdir(join(dir, 'masks'), { recursive: true })
  for (let i = 0; i < count; i++) {
    const width = 80 + ((i * 11) % 24)
    const height = 36 + ((i * 7) % 10)
    const { rgb, mask } = blobPicture(width, height, 100 + i)
    if (options.emptyMasks) mask.fill(0)
    await writeFile(join(dir, 'images', `fluke_${i}.jpg`), await jpeg(rgb, width, height, 3))
    await writeFile(join(dir, 'masks', `fluke_${i}.jpg`), await jpeg(Uint8Array.from(mask, (m) => m * 255), width, height, 1, 70))
  }
}
