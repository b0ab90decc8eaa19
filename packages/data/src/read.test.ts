import { mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { zipSync, zlibSync } from 'fflate'
import { crc32 } from 'node:zlib'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeImage, decodeMask } from './decode'
import { DataError } from './errors'
import { CARS, CARVANA_SIZE, encodeGif, writeCarvanaLike, writeWhaleLike } from './fixtures.test-helpers'
import { checkEntries, detectLayout, loadImages, openDataset, readDataset } from './read'

let base: string
let carvana: string
let carvanaMasks: Map<string, Uint8Array>
let whales: string
let whaleTruth: Awaited<ReturnType<typeof writeWhaleLike>>

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'unet-data-read-'))
  carvana = join(base, 'carvana')
  carvanaMasks = await writeCarvanaLike(carvana)
  whales = join(base, 'whales')
  whaleTruth = await writeWhaleLike(whales)
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

async function expectDataError(p: Promise<unknown>, code: string, pattern: RegExp): Promise<DataError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(DataError)
  expect((e as DataError).code).toBe(code)
  expect((e as DataError).message).toMatch(pattern)
  return e as DataError
}

/** A fresh whale-like copy to damage in one test. */
async function whaleCopy(name: string): Promise<string> {
  const dir = join(base, name)
  await writeWhaleLike(dir)
  return dir
}

describe('detectLayout', () => {
  it('recognises Carvana and folder pairs, and says what it looked for otherwise', async () => {
    expect(await detectLayout(carvana)).toBe('carvana')
    expect(await detectLayout(whales)).toBe('folders')
    const odd = join(base, 'odd')
    await mkdir(join(odd, 'pictures'), { recursive: true })
    await writeFile(join(odd, 'pictures', 'a.png'), await sharp({ create: { width: 2, height: 2, channels: 3, background: 'red' } }).png().toBuffer())
    await expectDataError(detectLayout(odd), 'UNKNOWN_LAYOUT', /Looked for: TGS .*Carvana .*folders .*Found: pictures\//)
  })
})

describe('Carvana layout', () => {
  it('reads RGB JPEGs with palette-GIF masks (index 1 = car), cross-checked against train_masks.csv, grouped by car', async () => {
    const { train, test, report, dataset } = await readDataset(carvana)
    await dataset.close()
    expect(report.layout).toBe('carvana')
    expect(train.length).toBe(12)
    expect(test.map((t) => t.id)).toEqual(['aaaa0000bbb0_01', 'aaaa0000bbb1_01'])
    expect(report.skipped).toEqual([])
    expect(report.formats).toEqual({ 'jpeg RGB': 12 })
    for (const s of train) {
      expect([s.width, s.height, s.channels]).toEqual([CARVANA_SIZE.width, CARVANA_SIZE.height, 3])
      expect(s.group).toBe(s.id.slice(0, 12))
      expect(Array.from(s.mask)).toEqual(Array.from(carvanaMasks.get(s.id)!))
      // RGB stays RGB: inside the car red dominates, outside blue.
      const mean = (on: number, k: number): number => {
        let sum = 0
        let n = 0
        for (let p = 0; p < s.mask.length; p++) if (s.mask[p] === on) (sum += s.image[p * 3 + k]!), n++
        return sum / n
      }
      expect(mean(1, 0)).toBeGreaterThan(mean(1, 2) + 0.5)
      expect(mean(0, 2)).toBeGreaterThan(mean(0, 0) + 0.5)
    }
    expect(new Set(train.map((s) => s.group))).toEqual(new Set(CARS))
  })

  it('decodes masks from train_masks.csv when there are no mask files, and stops on a CSV that disagrees', async () => {
    const dir = join(base, 'carvana-csv')
    await writeCarvanaLike(dir)
    await rm(join(dir, 'train_masks'), { recursive: true })
    const { train, report, dataset } = await readDataset(dir)
    await dataset.close()
    expect(report.notes.join()).toMatch(/masks are decoded from .*train_masks.csv/)
    for (const s of train) expect(Array.from(s.mask)).toEqual(Array.from(carvanaMasks.get(s.id)!))

    const bad = join(base, 'carvana-bad-csv')
    await writeCarvanaLike(bad)
    const csv = (await readFile(join(bad, 'train_masks.csv'), 'utf8')).split('\n')
    csv[3] = csv[3]!.replace(/,(\d+) /, (_, n: string) => `,${Number(n) + 1} `)
    await writeFile(join(bad, 'train_masks.csv'), csv.join('\n'))
    const e = await expectDataError(readDataset(bad), 'BAD_FILES', /train_masks.csv line 4: the RLE of .* disagrees with .*_mask.gif/)
    expect(e.problems.map((p) => p.code)).toEqual(['CSV_MASK_MISMATCH'])
  })

  it('reads the same from zips (Kaggle ships train.zip, train_masks.zip)', async () => {
    const dir = join(base, 'carvana-zips')
    await mkdir(dir)
    for (const folder of ['train', 'train_masks']) {
      const files: Record<string, Uint8Array> = {}
      for (const id of carvanaMasks.keys()) {
        const name = folder === 'train' ? `${id}.jpg` : `${id}_mask.gif`
        files[`${folder}/${name}`] = new Uint8Array(await readFile(join(carvana, folder, name)))
      }
      await writeFile(join(dir, `${folder}.zip`), zipSync(files))
    }
    await writeFile(join(dir, 'train_masks.csv'), await readFile(join(carvana, 'train_masks.csv')))
    const { train, dataset } = await readDataset(dir)
    await dataset.close()
    expect(train.length).toBe(12)
    expect(train[0]!.id).toBe(`${CARS[0]}_01`)
  })
})

describe('folder pairs (whale flukes)', () => {
  it('reads RGB JPEGs of varying sizes with grey JPEG masks binarised at > 108', async () => {
    const { train, report, dataset } = await readDataset(whales, { maskThreshold: 108 })
    await dataset.close()
    expect(report.layout).toBe('folders')
    expect(train.length).toBe(6)
    for (const s of train) {
      const truth = whaleTruth.get(s.id)!
      expect([s.width, s.height, s.channels]).toEqual([truth.width, truth.height, 3])
      expect(s.original).toEqual({ width: truth.width, height: truth.height })
      let differ = 0
      for (let i = 0; i < s.mask.length; i++) if (s.mask[i] !== truth.mask[i]) differ++
      expect(differ).toBe(0)
    }
  })

  it('refuses noisy JPEG masks without a threshold, naming the file and suggesting one', async () => {
    const e = await expectDataError(readDataset(whales), 'BAD_FILES', /masks\/fluke_0\.jpg: .*is not a binary mask: it holds values 0, .*give a mask threshold \(e\.g\. 108/)
    expect(e.problems.length).toBe(6)
    expect(e.problems.every((p) => p.code === 'NON_BINARY_MASK')).toBe(true)
  })

  it('matches masks named {stem}_mask with another extension', async () => {
    const dir = join(base, 'suffix')
    await mkdir(join(dir, 'images'), { recursive: true })
    await mkdir(join(dir, 'masks'), { recursive: true })
    const img = await sharp({ create: { width: 6, height: 4, channels: 3, background: { r: 9, g: 99, b: 200 } } }).jpeg().toBuffer()
    const mask = await sharp(Buffer.from(Array.from({ length: 24 }, (_, i) => (i % 5 === 0 ? 255 : 0))), { raw: { width: 6, height: 4, channels: 1 } }).png().toBuffer()
    await writeFile(join(dir, 'images', 'a.jpg'), img)
    await writeFile(join(dir, 'masks', 'a_mask.png'), mask)
    const { train, dataset } = await readDataset(dir, { maskName: '{stem}_mask' })
    await dataset.close()
    expect(train.map((s) => s.id)).toEqual(['a'])
    expect(Array.from(train[0]!.mask)).toEqual(Array.from({ length: 24 }, (_, i) => (i % 5 === 0 ? 1 : 0)))
  })
})

describe('bad input: every bad file is named', () => {
  it('collects corrupt, truncated, empty, mis-sized and unpaired files; stops by default, skips on request', async () => {
    const dir = await whaleCopy('bad')
    await writeFile(join(dir, 'images', 'fluke_0.jpg'), Buffer.from('not an image at all'))
    const jpeg = await readFile(join(dir, 'images', 'fluke_1.jpg'))
    await writeFile(join(dir, 'images', 'fluke_1.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)))
    await truncate(join(dir, 'masks', 'fluke_2.jpg'), 0)
    await writeFile(join(dir, 'masks', 'fluke_3.jpg'), await sharp(Buffer.alloc(81), { raw: { width: 9, height: 9, channels: 1 } }).jpeg().toBuffer())
    await rm(join(dir, 'masks', 'fluke_4.jpg'))
    await writeFile(join(dir, 'masks', 'orphan.jpg'), await sharp(Buffer.alloc(81), { raw: { width: 9, height: 9, channels: 1 } }).jpeg().toBuffer())

    const e = await expectDataError(readDataset(dir, { maskThreshold: 108 }), 'BAD_FILES', /6 file\(s\) cannot be used:[\s\S]*--skip-bad/)
    const byCode = Object.fromEntries(e.problems.map((p) => [p.file.slice(dir.length + 1), p.code]))
    expect(byCode).toEqual({
      'images/fluke_0.jpg': 'CORRUPT_IMAGE',
      'images/fluke_1.jpg': 'CORRUPT_IMAGE',
      'masks/fluke_2.jpg': 'CORRUPT_IMAGE',
      'masks/fluke_3.jpg': 'SIZE_MISMATCH',
      'images/fluke_4.jpg': 'IMAGE_WITHOUT_MASK',
      'masks/orphan.jpg': 'MASK_WITHOUT_IMAGE',
    })
    for (const p of e.problems) expect(p.reason.length).toBeGreaterThan(20)

    const { train, report, dataset } = await readDataset(dir, { maskThreshold: 108, onBadFile: 'skip' })
    await dataset.close()
    expect(train.map((s) => s.id)).toEqual(['fluke_5'])
    expect(report.skipped.map((p) => p.file).sort()).toEqual(e.problems.map((p) => p.file).sort())
    expect(report.skipped.find((p) => p.code === 'SIZE_MISMATCH')!.reason).toMatch(/fluke_3\.jpg is 9×9 but its image .*fluke_3\.jpg is 40×22/)
  })

  it('an empty images folder and a missing dataset are clear errors', async () => {
    const dir = join(base, 'empty')
    await mkdir(join(dir, 'images'), { recursive: true })
    await mkdir(join(dir, 'masks'), { recursive: true })
    await expectDataError(readDataset(dir, { images: 'images', masks: 'masks' }), 'EMPTY_FOLDER', /images\/ holds no images/)
    await expectDataError(readDataset(join(base, 'nowhere')), 'SOURCE_NOT_FOUND', /does not exist/)
  })
})

describe('formats', () => {
  it('keeps 16-bit precision, drops alpha, applies EXIF orientation, reads GIF and palette PNG by index', async () => {
    const u16 = new Uint16Array([0, 1000, 65535, 30000])
    const png16 = await sharp(u16, { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('grey16').png().toBuffer()
    const g = await decodeImage(png16, 'g16.png')
    expect([g.channels, g.bitDepth]).toEqual([1, 16])
    expect(g.data[1]).toBeCloseTo(1000 / 65535, 7)

    const rgba = await sharp(Buffer.from([255, 0, 0, 10, 0, 255, 0, 255]), { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer()
    const a = await decodeImage(rgba, 'rgba.png')
    expect(a.channels).toBe(3)
    expect(Array.from(a.data)).toEqual([1, 0, 0, 0, 1, 0])

    // 16 wide × 8 high, stored with EXIF orientation 6 (rotate 90° clockwise to view): read as 8 × 16.
    const wide = await sharp(Buffer.alloc(16 * 8 * 3, 120), { raw: { width: 16, height: 8, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer()
    const turned = await decodeImage(wide, 'exif.jpg')
    expect([turned.width, turned.height]).toEqual([8, 16])

    // Palette masks go by what they look like: black is background whichever index it has (Carvana: 0 black, 1 white).
    const indices = Uint8Array.from([0, 1, 1, 0, 0, 1])
    expect(Array.from((await decodeMask(encodeGif(indices, 3, 2, [[0, 0, 0], [255, 255, 255]]), 'carvana.gif')).data)).toEqual([0, 1, 1, 0, 0, 1])
    expect(Array.from((await decodeMask(encodeGif(indices, 3, 2, [[255, 255, 255], [0, 0, 0]]), 'white-first.gif')).data)).toEqual([1, 0, 0, 1, 1, 0])
    // Without black, the index: non-zero is foreground.
    expect(Array.from((await decodeMask(encodeGif(indices, 3, 2, [[40, 40, 40], [200, 0, 0]]), 'no-black.gif')).data)).toEqual([0, 1, 1, 0, 0, 1])
    // A GIF as sharp (libvips) writes it: white ends up at index 0; the object is still the white part.
    const blob = new Uint8Array(40 * 20 * 3)
    for (let p = 0; p < 800; p++) if (Math.abs((p % 40) - 20) < 6) blob.fill(255, 3 * p, 3 * p + 3)
    const sharpGif = await sharp(blob, { raw: { width: 40, height: 20, channels: 3 } }).gif({ colours: 2 }).toBuffer()
    const fromSharp = await decodeMask(sharpGif, 'sharp.gif')
    expect(fromSharp.data.reduce((a, b) => a + b, 0)).toBe(20 * 11)
    expect(fromSharp.data[20]).toBe(1)
    const three = encodeGif(Uint8Array.from([0, 1, 2, 0, 0, 1]), 3, 2, [[0, 0, 0], [255, 255, 255], [9, 9, 9]])
    expect(Array.from((await decodeMask(three, 'three.gif', { threshold: 1 })).data)).toEqual([0, 0, 1, 0, 0, 0])
    await expectDataError(decodeMask(three, 'three.gif'), 'NON_BINARY_MASK', /three\.gif is not a binary mask: it uses palette indices 0, 1, 2 with more than one non-black colour/)

    // Palette PNG whose palette puts white first: the white pixels are the object.
    const palettePng = (() => {
      const chunk = (type: string, data: Uint8Array): Buffer => {
        const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
        const out = Buffer.alloc(12 + data.length)
        out.writeUInt32BE(data.length, 0)
        body.copy(out, 4)
        out.writeUInt32BE(crc32(body), 8 + data.length)
        return out
      }
      const ihdr = Buffer.alloc(13)
      ihdr.writeUInt32BE(3, 0)
      ihdr.writeUInt32BE(2, 4)
      ihdr.set([8, 3, 0, 0, 0], 8)
      const rows = Uint8Array.from([0, 0, 1, 1, 0, 0, 0, 1])
      return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk('IHDR', ihdr),
        chunk('PLTE', Uint8Array.from([255, 255, 255, 0, 0, 0])),
        chunk('IDAT', zlibSync(rows)),
        chunk('IEND', new Uint8Array(0)),
      ])
    })()
    expect(Array.from((await decodeMask(palettePng, 'p.png')).data)).toEqual([1, 0, 0, 1, 1, 0])

    const webp = await sharp({ create: { width: 5, height: 3, channels: 3, background: { r: 0, g: 0, b: 255 } } }).webp({ lossless: true }).toBuffer()
    const w = await decodeImage(webp, 'x.webp')
    expect([w.width, w.height, w.channels, w.data[2]]).toEqual([5, 3, 3, 1])
    const tiff = await sharp({ create: { width: 5, height: 3, channels: 3, background: { r: 0, g: 255, b: 0 } } }).tiff().toBuffer()
    expect((await decodeImage(tiff, 'x.tiff')).data[1]).toBe(1)
  })
})

describe('issue 17 regressions', () => {
  it('follows symlinked images (DVC, git-annex layouts) and refuses only loops', async () => {
    const store = join(base, 'store')
    await writeWhaleLike(store)
    const dir = join(base, 'linked')
    await mkdir(join(dir, 'images'), { recursive: true })
    await symlink(join(store, 'masks'), join(dir, 'masks')) // a linked folder
    for (const [name] of whaleTruth) await symlink(join(store, 'images', `${name}.jpg`), join(dir, 'images', `${name}.jpg`)) // linked files
    await symlink(dir, join(dir, 'images', 'loop')) // a folder link back up: not followed
    await symlink(join(dir, 'images', 'x.jpg'), join(dir, 'images', 'y.jpg'))
    await symlink(join(dir, 'images', 'y.jpg'), join(dir, 'images', 'x.jpg')) // a file link loop
    const e = await expectDataError(readDataset(dir, { maskThreshold: 108 }), 'BAD_FILES', /x\.jpg: the symbolic link loops/)
    expect(e.problems.map((p) => p.code)).toEqual(['SYMLINK_LOOP', 'SYMLINK_LOOP'])
    const { train, report, dataset } = await readDataset(dir, { maskThreshold: 108, onBadFile: 'skip' })
    await dataset.close()
    expect(train.length).toBe(6)
    expect(report.notes.join('\n')).toMatch(/loop links back to .*not followed/)
  })

  it('reads files whose names are not UTF-8', async () => {
    const dir = join(base, 'latin1')
    await writeWhaleLike(dir)
    const name = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9])]) // "café" in Latin-1
    const img = await readFile(join(dir, 'images', 'fluke_0.jpg'))
    const mask = await readFile(join(dir, 'masks', 'fluke_0.jpg'))
    await writeFile(Buffer.concat([Buffer.from(join(dir, 'images') + '/'), name, Buffer.from('.jpg')]), img)
    await writeFile(Buffer.concat([Buffer.from(join(dir, 'masks') + '/'), name, Buffer.from('.jpg')]), mask)
    const { train, dataset } = await readDataset(dir, { maskThreshold: 108 })
    await dataset.close()
    const cafe = train.find((s) => s.id === 'café')
    expect(cafe).toBeDefined()
    expect(cafe!.width).toBe(64)
  })
})

describe('streaming', () => {
  it('checkEntries finds bad files of a listed dataset up front: headers fast, or full decodes', async () => {
    const dir = await whaleCopy('check')
    await writeFile(join(dir, 'masks', 'fluke_3.jpg'), await sharp(Buffer.alloc(81), { raw: { width: 9, height: 9, channels: 1 } }).jpeg().toBuffer())
    const jpeg = await readFile(join(dir, 'images', 'fluke_1.jpg'))
    await writeFile(join(dir, 'images', 'fluke_1.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)))
    const dataset = await openDataset(dir, { maskThreshold: 108 })
    const e = await expectDataError(checkEntries(dataset), 'BAD_FILES', /fluke_3\.jpg is 9×9 but its image/)
    expect(e.problems.map((p) => p.code)).toEqual(['SIZE_MISMATCH']) // a truncated JPEG has a good header
    const full = await checkEntries(dataset, dataset.train, { level: 'full', onBadFile: 'skip' })
    expect(full.skipped.map((p) => [p.id, p.code]).sort()).toEqual([['fluke_1', 'CORRUPT_IMAGE'], ['fluke_3', 'SIZE_MISMATCH']])
    expect(full.good.map((g) => g.id)).toEqual(['fluke_0', 'fluke_2', 'fluke_4', 'fluke_5'])
    await dataset.close()
  })

  it('openDataset lists without decoding; loadImages decodes test images in order, chunk by chunk', async () => {
    const dataset = await openDataset(carvana)
    expect(dataset.train.length).toBe(12)
    const first = await dataset.load(dataset.train[0]!)
    expect(first.channels).toBe(3)
    const chunks: string[][] = []
    for await (const chunk of loadImages(dataset, dataset.test, { chunkSize: 1 })) chunks.push(chunk.map((c) => c.id))
    expect(chunks).toEqual([['aaaa0000bbb0_01'], ['aaaa0000bbb1_01']])
    await dataset.close()
  })

  it('loadMask decodes a mask alone, the same as load gives, and checks it against its image', async () => {
    const dataset = await openDataset(carvana)
    for (const entry of dataset.train.slice(0, 3)) {
      const alone = await dataset.loadMask(entry)
      const both = await dataset.load(entry)
      expect([alone.width, alone.height, alone.channels]).toEqual([both.width, both.height, both.channels])
      expect(Array.from(alone.mask)).toEqual(Array.from(both.mask))
    }
    await dataset.close()
    const dir = await whaleCopy('mask-alone')
    await writeFile(join(dir, 'masks', 'fluke_3.jpg'), await sharp(Buffer.alloc(81), { raw: { width: 9, height: 9, channels: 1 } }).jpeg().toBuffer())
    const whales = await openDataset(dir, { maskThreshold: 108 })
    await expectDataError(whales.loadMask(whales.train.find((e) => e.id === 'fluke_3')!), 'SIZE_MISMATCH', /fluke_3\.jpg is 9×9 but its image/)
    await whales.close()
  })
})
