// Test fixtures made in code: small Carvana-like and whale-fluke-like datasets. Not exported by the package.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encode as encodeRle } from '@unet/rle'
import sharp from 'sharp'

/**
 * A minimal GIF with a given palette and palette indices (what Carvana's masks
 * are): LZW with a clear code before every two pixels, so every code stays 3 bits.
 */
export function encodeGif(indices: Uint8Array, width: number, height: number, palette: Array<[number, number, number]>): Uint8Array {
  const bytes: number[] = []
  const ascii = (s: string) => bytes.push(...[...s].map((c) => c.charCodeAt(0)))
  const u16 = (v: number) => bytes.push(v & 0xff, v >> 8)
  ascii('GIF89a')
  u16(width)
  u16(height)
  bytes.push(0xf1, 0, 0) // global colour table of 4 entries
  for (let i = 0; i < 4; i++) bytes.push(...(palette[i] ?? [0, 0, 0]))
  bytes.push(0x2c)
  u16(0)
  u16(0)
  u16(width)
  u16(height)
  bytes.push(0)
  bytes.push(2) // LZW minimum code size: clear = 4, end = 5, codes 3 bits wide
  const codes: number[] = []
  for (let i = 0; i < indices.length; i++) {
    if (i % 2 === 0) codes.push(4)
    codes.push(indices[i]!)
  }
  codes.push(5)
  const data: number[] = []
  let acc = 0
  let bits = 0
  for (const c of codes) {
    acc |= c << bits
    bits += 3
    while (bits >= 8) {
      data.push(acc & 0xff)
      acc >>= 8
      bits -= 8
    }
  }
  if (bits > 0) data.push(acc & 0xff)
  for (let i = 0; i < data.length; i += 255) {
    const block = data.slice(i, i + 255)
    bytes.push(block.length, ...block)
  }
  bytes.push(0, 0x3b)
  return Uint8Array.from(bytes)
}

/** An RGB photo-like image with an ellipse "object" whose mask is returned too. */
export function ellipsePicture(width: number, height: number, seed: number): { rgb: Uint8Array; mask: Uint8Array } {
  const rgb = new Uint8Array(width * height * 3)
  const mask = new Uint8Array(width * height)
  const cx = width * (0.4 + 0.05 * (seed % 4))
  const cy = height * 0.5
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const inside = ((x - cx) / (width * 0.3)) ** 2 + ((y - cy) / (height * 0.3)) ** 2 < 1
      mask[y * width + x] = inside ? 1 : 0
      rgb.set(inside ? [200, 40 + seed * 10, 30] : [40, 90, 180 + (x % 8)], (y * width + x) * 3)
    }
  return { rgb, mask }
}

export const CARS = ['0cdf5b5d0ce1', '11acdeadbeef', 'f3d0babe0123']
export const CARVANA_SIZE = { width: 48, height: 32 }

/** Carvana's layout: train/<car>_<nn>.jpg, train_masks/<car>_<nn>_mask.gif (index 1 = car), train_masks.csv (row-major RLE), test/. */
export async function writeCarvanaLike(dir: string, views = 4): Promise<Map<string, Uint8Array>> {
  const { width, height } = CARVANA_SIZE
  await mkdir(join(dir, 'train'), { recursive: true })
  await mkdir(join(dir, 'train_masks'), { recursive: true })
  await mkdir(join(dir, 'test'), { recursive: true })
  const masks = new Map<string, Uint8Array>()
  const rows = ['img,rle_mask']
  let seed = 0
  for (const car of CARS) {
    for (let v = 1; v <= views; v++) {
      const id = `${car}_${String(v).padStart(2, '0')}`
      const { rgb, mask } = ellipsePicture(width, height, seed++)
      masks.set(id, mask)
      await writeFile(join(dir, 'train', `${id}.jpg`), await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer())
      // Palette: 0 black (background), 1 white (car), as in Carvana's GIFs.
      await writeFile(join(dir, 'train_masks', `${id}_mask.gif`), encodeGif(mask, width, height, [[0, 0, 0], [255, 255, 255]]))
      rows.push(`${id}.jpg,${encodeRle(mask, { height, width }, { order: 'row-major' })}`)
    }
  }
  await writeFile(join(dir, 'train_masks.csv'), rows.join('\n') + '\n')
  for (let t = 0; t < 2; t++) {
    const { rgb } = ellipsePicture(width, height, 20 + t)
    await writeFile(join(dir, 'test', `aaaa0000bbb${t}_01.jpg`), await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg().toBuffer())
  }
  return masks
}

/** Whale flukes: images/<name>.jpg RGB of varying sizes, masks/<name>.jpg grey JPEG (noisy 0/255: threshold 108). */
export async function writeWhaleLike(dir: string): Promise<Map<string, { width: number; height: number; mask: Uint8Array }>> {
  await mkdir(join(dir, 'images'), { recursive: true })
  await mkdir(join(dir, 'masks'), { recursive: true })
  const out = new Map<string, { width: number; height: number; mask: Uint8Array }>()
  const sizes = [[64, 32], [50, 26], [72, 30], [40, 22], [66, 34], [58, 28]] as const
  for (const [i, [width, height]] of sizes.entries()) {
    const name = `fluke_${i}`
    const { rgb, mask } = ellipsePicture(width, height, i)
    out.set(name, { width, height, mask })
    await writeFile(join(dir, 'images', `${name}.jpg`), await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer())
    const grey = Uint8Array.from(mask, (m) => (m ? 255 : 0))
    await writeFile(join(dir, 'masks', `${name}.jpg`), await sharp(grey, { raw: { width, height, channels: 1 } }).jpeg({ quality: 70 }).toBuffer())
  }
  return out
}
