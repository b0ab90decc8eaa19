import { mkdir, mkdtemp, readFile, readdir, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { zipSync, type Zippable } from 'fflate'
import sharp from 'sharp'
import { encodePng } from '@unet/data'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readTgsDataset, readTgsTestImages } from './dataset'
import { TgsDataError } from './errors'
import { generateSyntheticTgs } from './synthetic'
import { writeSyntheticTgs } from './write'
import { createBatches } from './batches'

const OPTIONS = { trainCount: 12, testCount: 4, seed: 5 }
let base: string
let clean: string

/** A fresh copy of the clean synthetic dataset, to damage in one test. */
async function copyDataset(name: string): Promise<string> {
  const dir = join(base, name)
  await writeSyntheticTgs(dir, OPTIONS)
  return dir
}

async function filesUnder(dir: string, prefix = ''): Promise<Zippable> {
  const out: Zippable = {}
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix + entry.name
    if (entry.isDirectory()) Object.assign(out, await filesUnder(join(dir, entry.name), rel + '/'))
    else out[rel] = new Uint8Array(await readFile(join(dir, entry.name)))
  }
  return out
}

/** Byte-equal typed arrays (much faster than a deep toEqual on 10,201 elements). */
function same(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array): boolean {
  return a.constructor === b.constructor && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

async function expectError(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<TgsDataError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TgsDataError)
  expect((error as TgsDataError).code).toBe(code)
  expect((error as TgsDataError).message).toMatch(pattern)
  return error as TgsDataError
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'data-tgs-'))
  clean = join(base, 'clean')
  await writeSyntheticTgs(clean, OPTIONS)
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

describe('readTgsDataset on the Kaggle layout', () => {
  it('reads back exactly what the generator made, with the Kaggle file formats', async () => {
    const expected = generateSyntheticTgs(OPTIONS)
    const { train, test, report } = await readTgsDataset(clean)
    expect(train.map((s) => s.id)).toEqual(expected.train.map((s) => s.id))
    expect(test.map((s) => s.id)).toEqual(expected.test.map((s) => s.id))
    train.forEach((s, i) => {
      const e = expected.train[i]!
      expect(same(s.image, e.image)).toBe(true)
      expect(same(s.mask, e.mask)).toBe(true)
      expect([s.depth, s.coverage, s.coverageClass, s.height, s.width]).toEqual([e.depth, e.coverage, e.coverageClass, 101, 101])
    })
    test.forEach((s, i) => expect(same(s.image, expected.test[i]!.image)).toBe(true))
    expect(report.skipped).toEqual([])
    expect(report.maskSource).toBe('files')
    expect(report.imageFormats).toEqual({ '8-bit, 3 channels': 16 })
    expect(report.imageFormats).toEqual(expected.report.imageFormats)
    expect(report.maskFormats).toEqual({ '16-bit, 1 channel': 12 })
    expect(report.emptyMasks).toBe(expected.report.emptyMasks)
    const masks = await readdir(join(clean, 'train', 'masks'))
    const meta = await sharp(join(clean, 'train', 'masks', masks[0]!)).metadata()
    expect([meta.depth, meta.channels]).toEqual(['ushort', 1])
    expect((await readFile(join(clean, 'sample_submission.csv'), 'utf8')).split('\n')[0]).toBe('id,rle_mask')
  })

  it('accepts 8-bit 0/255 masks and 3-channel 16-bit images', async () => {
    const dir = await copyDataset('formats')
    const { train } = await readTgsDataset(clean)
    const s = train.find((t) => t.coverage > 0)!
    const mask8 = Buffer.from(s.mask.map((v) => v * 255))
    await writeFile(join(dir, 'train', 'masks', `${s.id}.png`), await sharp(mask8, { raw: { width: 101, height: 101, channels: 1 } }).toColourspace('b-w').png().toBuffer())
    const rgb16 = new Uint16Array(101 * 101 * 3)
    for (let i = 0; i < 101 * 101; i++) rgb16.fill(Math.round(s.image[i]! * 65535), 3 * i, 3 * i + 3)
    await writeFile(join(dir, 'train', 'images', `${s.id}.png`), await sharp(rgb16, { raw: { width: 101, height: 101, channels: 3 } }).toColourspace('rgb16').png().toBuffer())
    const again = await readTgsDataset(dir)
    const t = again.train.find((x) => x.id === s.id)!
    expect(same(t.mask, s.mask)).toBe(true)
    expect(Math.max(...t.image.map((v, i) => Math.abs(v - s.image[i]!)))).toBeLessThan(1e-4)
    expect(again.report.maskFormats['8-bit, 1 channel']).toBe(1)
    expect(again.report.imageFormats['16-bit, 3 channels']).toBe(1)
  })

  it('writes and reads one-channel grey images too', async () => {
    const dir = join(base, 'grey')
    await writeSyntheticTgs(dir, { trainCount: 3, testCount: 1, seed: 5, imageChannels: 1 })
    const { train, report } = await readTgsDataset(dir)
    const expected = generateSyntheticTgs({ trainCount: 3, testCount: 1, seed: 5, imageChannels: 1 })
    expect(train.every((s, i) => same(s.image, expected.train[i]!.image))).toBe(true)
    expect(report.imageFormats).toEqual({ '8-bit, 1 channel': 4 })
  })

  it('takes masks from train.csv when there are no mask files', async () => {
    const dir = await copyDataset('csv-only')
    await rm(join(dir, 'train', 'masks'), { recursive: true })
    const { train, report } = await readTgsDataset(dir)
    const expected = generateSyntheticTgs(OPTIONS)
    expect(train.every((s, i) => same(s.mask, expected.train[i]!.mask))).toBe(true)
    expect(report.maskSource).toBe('train.csv')
  })
})

describe('readTgsDataset on zips', () => {
  it('reads one zip of the whole folder', async () => {
    const zip = join(base, 'whole.zip')
    await writeFile(zip, zipSync({ 'tgs/': {}, ...prefixed(await filesUnder(clean), 'tgs/') }))
    const { train, test } = await readTgsDataset(zip)
    const expected = generateSyntheticTgs(OPTIONS)
    expect(train.every((s, i) => same(s.mask, expected.train[i]!.mask))).toBe(true)
    expect(test.length).toBe(4)
  })

  it("reads Kaggle's train.zip and test.zip beside the CSVs, and the competition zip holding them", async () => {
    const files = await filesUnder(clean)
    const trainZip = zipSync(pick(files, 'train/'))
    const testZip = zipSync(pick(files, 'test/'))
    const dir = join(base, 'kaggle-zips')
    await writeSyntheticTgs(dir, { ...OPTIONS, trainCount: 0, testCount: 0 })
    await rm(join(dir, 'train'), { recursive: true })
    await rm(join(dir, 'test'), { recursive: true })
    for (const name of ['train.csv', 'depths.csv']) await writeFile(join(dir, name), files[name] as Uint8Array)
    await writeFile(join(dir, 'train.zip'), trainZip)
    await writeFile(join(dir, 'test.zip'), testZip)
    const fromFolder = await readTgsDataset(dir)
    expect(fromFolder.train.length).toBe(12)
    expect(fromFolder.test.length).toBe(4)

    const competition = join(base, 'tgs-salt-identification-challenge.zip')
    await writeFile(
      competition,
      zipSync({ 'train.zip': trainZip, 'test.zip': testZip, 'train.csv': files['train.csv'] as Uint8Array, 'depths.csv': files['depths.csv'] as Uint8Array }),
    )
    const fromZip = await readTgsDataset(competition)
    expect(fromZip.train.every((s, i) => same(s.image, fromFolder.train[i]!.image))).toBe(true)
    expect(fromZip.test.map((s) => s.id)).toEqual(fromFolder.test.map((s) => s.id))
  })

  it('names a damaged zip', async () => {
    const zip = join(base, 'broken.zip')
    await writeFile(zip, Buffer.from('PK\u0003\u0004 this is not a zip at all'))
    await expectError(readTgsDataset(zip), 'ZIP_ERROR', /broken\.zip/)
  })
})

describe('readTgsTestImages', () => {
  it('streams the test images in chunks, equal to what readTgsDataset reads', async () => {
    const { test } = await readTgsDataset(clean)
    const chunks: number[] = []
    const streamed = []
    for await (const chunk of readTgsTestImages(clean, { chunkSize: 3 })) {
      chunks.push(chunk.length)
      streamed.push(...chunk)
    }
    expect(chunks).toEqual([3, 1])
    expect(streamed.map((s) => [s.id, s.depth])).toEqual(test.map((s) => [s.id, s.depth]))
    expect(streamed.every((s, i) => same(s.image, test[i]!.image))).toBe(true)
  })

  it('stops on a test image it cannot use', async () => {
    const dir = await copyDataset('test-corrupt')
    const [first] = (await readdir(join(dir, 'test', 'images'))).sort()
    await writeFile(join(dir, 'test', 'images', first!), 'not a png')
    const consume = async (): Promise<void> => {
      for await (const chunk of readTgsTestImages(dir)) void chunk
    }
    await expectError(consume(), 'CORRUPT_PNG', new RegExp(first!))
  })
})

describe('readTgsDataset validation', () => {
  it('stops on a corrupt PNG by default, naming it; skips it with a report when asked', async () => {
    const dir = await copyDataset('corrupt')
    const [first] = (await readdir(join(dir, 'train', 'images'))).sort()
    const bytes = await readFile(join(dir, 'train', 'images', first!))
    await writeFile(join(dir, 'train', 'images', first!), bytes.subarray(0, bytes.length - 30))
    await expectError(readTgsDataset(dir), 'CORRUPT_PNG', new RegExp(`1 file\\(s\\) cannot be used:\\n.*${first!}.*\\n.*--skip-bad`))
    const { train, report } = await readTgsDataset(dir, { onInvalidFile: 'skip' })
    expect(train.length).toBe(11)
    expect(report.skipped).toHaveLength(1)
    expect(report.skipped[0]).toMatchObject({ code: 'CORRUPT_PNG', id: first!.replace('.png', '') })
    expect(report.skipped[0]!.file).toContain(first!)
    await expectError(readTgsDataset(dir, { onInvalidFile: 'error' }), 'CORRUPT_PNG', new RegExp(first!))
  })

  it('skips an image of the wrong size when asked', async () => {
    const dir = await copyDataset('size')
    const [first] = (await readdir(join(dir, 'train', 'images'))).sort()
    await writeFile(join(dir, 'train', 'images', first!), encodePng(new Float32Array(100 * 101), { width: 100, height: 101, channels: 1 }))
    const { train, report } = await readTgsDataset(dir, { onInvalidFile: 'skip' })
    expect(train.length).toBe(11)
    expect(report.skipped[0]).toMatchObject({ code: 'WRONG_SIZE' })
    expect(report.skipped[0]!.message).toMatch(/100×101, expected 101×101/)
    await expectError(readTgsDataset(dir, { onInvalidFile: 'error' }), 'WRONG_SIZE', /100×101/)
  })

  it('skips an image without mask and a mask without image', async () => {
    const dir = await copyDataset('orphans')
    const ids = (await readdir(join(dir, 'train', 'images'))).sort()
    await unlink(join(dir, 'train', 'images', ids[0]!))
    // train.csv must still agree with the masks, so drop the mask's row too for the second case.
    await unlink(join(dir, 'train', 'masks', ids[1]!))
    const csv = (await readFile(join(dir, 'train.csv'), 'utf8')).split('\n').filter((l) => !l.startsWith(ids[1]!.replace('.png', ',')))
    await writeFile(join(dir, 'train.csv'), csv.join('\n'))
    const { train, report } = await readTgsDataset(dir, { onInvalidFile: 'skip' })
    expect(train.length).toBe(10)
    expect(report.skipped.map((p) => p.code).sort()).toEqual(['IMAGE_WITHOUT_MASK', 'MASK_WITHOUT_IMAGE'])
    expect(report.skipped.find((p) => p.code === 'IMAGE_WITHOUT_MASK')!.id).toBe(ids[1]!.replace('.png', ''))
    expect(report.skipped.find((p) => p.code === 'MASK_WITHOUT_IMAGE')!.id).toBe(ids[0]!.replace('.png', ''))
    // Stopping names both files at once, not only the first.
    const e = await expectError(readTgsDataset(dir, { onInvalidFile: 'error' }), 'MASK_WITHOUT_IMAGE', /2 file\(s\) cannot be used:[\s\S]*has no image[\s\S]*has no mask/)
    expect(e.problems.map((p) => p.code).sort()).toEqual(['IMAGE_WITHOUT_MASK', 'MASK_WITHOUT_IMAGE'])
  })

  it('stops when train.csv disagrees with a mask file', async () => {
    const dir = await copyDataset('mismatch')
    const lines = (await readFile(join(dir, 'train.csv'), 'utf8')).split('\n')
    const i = lines.findIndex((l, k) => k > 0 && l.endsWith(','))
    lines[i] = lines[i] + '1 5'
    await writeFile(join(dir, 'train.csv'), lines.join('\n'))
    const id = lines[i]!.split(',')[0]!
    await expectError(readTgsDataset(dir), 'CSV_MASK_MISMATCH', new RegExp(`line ${i + 1}: the RLE of ${id} disagrees .* in 5 pixel`))
  })

  it('stops when train.csv lacks a row for a mask file', async () => {
    const dir = await copyDataset('mismatch-rows')
    const lines = (await readFile(join(dir, 'train.csv'), 'utf8')).split('\n')
    const id = lines[3]!.split(',')[0]!
    await writeFile(join(dir, 'train.csv'), lines.filter((_, k) => k !== 3).join('\n'))
    await expectError(readTgsDataset(dir), 'CSV_MASK_MISMATCH', new RegExp(`${id}\\.png has no row in train.csv`))
  })

  it('stops on ids missing from depths.csv, or goes on with NaN when allowed', async () => {
    const dir = await copyDataset('depths')
    const lines = (await readFile(join(dir, 'depths.csv'), 'utf8')).split('\n')
    const id = lines[2]!.split(',')[0]!
    await writeFile(join(dir, 'depths.csv'), lines.filter((_, k) => k !== 2).join('\n'))
    await expectError(readTgsDataset(dir), 'MISSING_DEPTH', new RegExp(`no depth for 1 id\\(s\\): ${id}`))
    const { train, test, report } = await readTgsDataset(dir, { missingDepths: 'nan' })
    const all = [...train, ...test]
    expect(all.filter((s) => Number.isNaN(s.depth)).map((s) => s.id)).toEqual([id])
    expect(report.skipped).toMatchObject([{ code: 'MISSING_DEPTH', id }])
  })

  it('stops on duplicate ids in depths.csv, train.csv, or among files', async () => {
    const dir = await copyDataset('duplicates')
    const depths = await readFile(join(dir, 'depths.csv'), 'utf8')
    const row = depths.split('\n')[1]!
    await writeFile(join(dir, 'depths.csv'), depths + row + '\n')
    await expectError(readTgsDataset(dir), 'DUPLICATE_ID', new RegExp(`lines 2 and \\d+ both give a depth for ${row.split(',')[0]}`))
    await writeFile(join(dir, 'depths.csv'), depths)

    const train = await readFile(join(dir, 'train.csv'), 'utf8')
    await writeFile(join(dir, 'train.csv'), train + train.split('\n')[1] + '\n')
    await expectError(readTgsDataset(dir), 'DUPLICATE_ID', /train\.csv lines 2 and 14 both hold id/)
    await writeFile(join(dir, 'train.csv'), train)

    const [first] = (await readdir(join(dir, 'train', 'images'))).sort()
    const upper = first!.replace('.png', '').toUpperCase() + '.png'
    await writeFile(join(dir, 'train', 'images', upper), await readFile(join(dir, 'train', 'images', first!)))
    await expectError(readTgsDataset(dir), 'DUPLICATE_ID', /are the same id/)
    await unlink(join(dir, 'train', 'images', upper))

    const [test] = await readdir(join(dir, 'test', 'images'))
    await writeFile(join(dir, 'test', 'images', first!), await readFile(join(dir, 'test', 'images', test!)))
    await expectError(readTgsDataset(dir), 'DUPLICATE_ID', /both a train image .* and a test image/)
  })

  it('says what to do when the path is not a TGS dataset', async () => {
    await expectError(readTgsDataset(join(base, 'nope')), 'SOURCE_NOT_FOUND', /does not exist/)
    const empty = join(base, 'empty')
    await writeSyntheticTgs(empty, { trainCount: 0, testCount: 0 })
    await rm(join(empty, 'train.csv'))
    await expectError(readTgsDataset(empty), 'NOT_A_TGS_DATASET', /neither train\/images/)
  })
})

describe('issue 17 regressions', () => {
  it('F1: 11 of 12 masks at the wrong size (the probe did 35 of 40) stop the read, naming all 11, instead of leaving 1 to train on', async () => {
    const dir = join(base, 'f1')
    await writeSyntheticTgs(dir, { trainCount: 12, testCount: 0, seed: 3 })
    const masks = (await readdir(join(dir, 'train', 'masks'))).sort().slice(0, 11)
    for (const m of masks) {
      const small = await sharp(await readFile(join(dir, 'train', 'masks', m))).resize(64, 64, { kernel: 'nearest' }).png().toBuffer()
      await writeFile(join(dir, 'train', 'masks', m), small)
    }
    const e = await expectError(readTgsDataset(dir), 'WRONG_SIZE', /11 file\(s\) cannot be used:[\s\S]*is 64×64, expected 101×101[\s\S]*… and 1 more/)
    expect(e.problems.map((p) => p.file!.split('/').pop()).sort()).toEqual(masks)
    const { train, report } = await readTgsDataset(dir, { onInvalidFile: 'skip' })
    expect(train.length).toBe(1)
    expect(report.skipped.length).toBe(11)
  })

  it('a missing depths.csv is not fatal when depth is not used; a depth channel then says what to do', async () => {
    const dir = await copyDataset('no-depths')
    await rm(join(dir, 'depths.csv'))
    const { train, test, report } = await readTgsDataset(dir)
    expect(train.length).toBe(12)
    expect(test.length).toBe(4)
    expect(train.every((s) => Number.isNaN(s.depth))).toBe(true)
    expect(report.notes.join()).toMatch(/no depths\.csv found: every depth is NaN/)
    await expectError(readTgsDataset(dir, { missingDepths: 'error' }), 'MISSING_DEPTH', /has no depths\.csv; add it, or read without depths/)
    expect(() => createBatches(train, { depthChannel: true })).toThrow(/has none \(no depths\.csv, or no row for it\); add the depths, or train without the depth channel/)
    const streamed = []
    for await (const chunk of readTgsTestImages(dir)) streamed.push(...chunk)
    expect(streamed.length).toBe(4)
  })

  it('reading the test set needs test.zip only: a corrupt train.zip does not stop it', async () => {
    const files = await filesUnder(clean)
    const dir = join(base, 'corrupt-train-zip')
    await mkdir(dir)
    await writeFile(join(dir, 'train.zip'), Buffer.from('PK\u0003\u0004 truncated download'))
    await writeFile(join(dir, 'test.zip'), zipSync(pick(files, 'test/')))
    await writeFile(join(dir, 'depths.csv'), files['depths.csv'] as Uint8Array)
    const streamed = []
    for await (const chunk of readTgsTestImages(dir)) streamed.push(...chunk)
    expect(streamed.map((s) => s.id)).toEqual((await readTgsDataset(clean)).test.map((s) => s.id))
    // Training still names the broken zip.
    await expectError(readTgsDataset(dir), 'ZIP_ERROR', /train\.zip/)
  })

  it('follows symlinked images and masks (DVC, git-annex layouts)', async () => {
    const dir = join(base, 'linked')
    await mkdir(join(dir, 'train', 'images'), { recursive: true })
    await symlink(join(clean, 'train', 'masks'), join(dir, 'train', 'masks'))
    await symlink(join(clean, 'test'), join(dir, 'test'))
    for (const name of ['train.csv', 'depths.csv']) await symlink(join(clean, name), join(dir, name))
    for (const f of await readdir(join(clean, 'train', 'images'))) await symlink(join(clean, 'train', 'images', f), join(dir, 'train', 'images', f))
    const linked = await readTgsDataset(dir)
    const direct = await readTgsDataset(clean)
    expect(linked.train.map((s) => s.id)).toEqual(direct.train.map((s) => s.id))
    expect(linked.train.every((s, i) => same(s.image, direct.train[i]!.image) && same(s.mask, direct.train[i]!.mask))).toBe(true)
  })
})

function prefixed(files: Zippable, prefix: string): Zippable {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [prefix + k, v]))
}

/** Kaggle's train.zip holds `images/` and `masks/` at its top: strip the folder. */
function pick(files: Zippable, prefix: string): Zippable {
  return Object.fromEntries(Object.entries(files).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]))
}
