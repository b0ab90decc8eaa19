/**
 * @unet/data benchmark: decoding and resizing full-size Carvana-like photos, and reading a TGS-sized set.
 *
 *   pnpm --filter @unet/bench run data-decode              # 16 photos of 1918 × 1280, 1,000 TGS images
 *   pnpm --filter @unet/bench run data-decode -- --photos 32 --tgs 4000 --repeats 5
 *
 * Prints images/s (wall, and per CPU-second of all this process's threads: the figure other jobs on a shared machine
 * disturb less), medians of the repeats, and the load average. Asserts nothing.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import {
  createSampleLoader,
  decodeImage,
  mapLimit,
  openDataset,
  prepareImage,
  readDataset,
  type PrepareSpec,
} from '@unet/data'
import { readTgsDataset, writeSyntheticTgs } from '@unet/data-tgs'

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const photos = flag('--photos', 16)
const tgsCount = flag('--tgs', 1000)
const repeats = flag('--repeats', 3)
const concurrency = flag('--concurrency', 4)

interface Measure {
  wall: number
  cpu: number
}

async function measure(n: number, run: () => Promise<unknown>): Promise<string> {
  const runs: Measure[] = []
  for (let r = 0; r < repeats; r++) {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await run()
    const wall = (performance.now() - t0) / 1000
    const used = process.cpuUsage(cpu0)
    runs.push({ wall, cpu: (used.user + used.system) / 1e6 })
  }
  const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const wall = median(runs.map((r) => r.wall))
  const cpu = median(runs.map((r) => r.cpu))
  return `${(n / wall).toFixed(1).padStart(7)} images/s wall  ${(n / cpu).toFixed(1).padStart(7)} per CPU-second  (median of ${repeats}: ${wall.toFixed(2)} s, ${cpu.toFixed(2)} CPU-s for ${n})`
}

/** A photo-like 1918 × 1280 JPEG: smooth shading, texture and a car-like blob, so it compresses like a photo. */
async function writePhotos(dir: string): Promise<void> {
  await mkdir(join(dir, 'images'), { recursive: true })
  await mkdir(join(dir, 'masks'), { recursive: true })
  const width = 1918
  const height = 1280
  await mapLimit(Array.from({ length: photos }, (_, i) => i), 2, async (i) => {
    const rgb = new Uint8Array(width * height * 3)
    const mask = new Uint8Array(width * height)
    let seed = 1 + i * 7919
    const noise = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24) - 128
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const inside = ((x - 960 - 40 * (i % 5)) / 700) ** 2 + ((y - 700) / 330) ** 2 < 1
        const o = (y * width + x) * 3
        const shade = 0.5 + 0.4 * Math.sin(x / 170 + i) * Math.cos(y / 130)
        const t = noise() * 0.1
        rgb[o] = Math.max(0, Math.min(255, (inside ? 180 : 120) * shade + t))
        rgb[o + 1] = Math.max(0, Math.min(255, (inside ? 30 : 130) * shade + t))
        rgb[o + 2] = Math.max(0, Math.min(255, (inside ? 40 : 150) * shade + t))
        mask[y * width + x] = inside ? 255 : 0
      }
    await writeFile(join(dir, 'images', `${i}.jpg`), await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer())
    await writeFile(join(dir, 'masks', `${i}.png`), await sharp(mask, { raw: { width, height, channels: 1 } }).png().toBuffer())
  })
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'unet-bench-data-'))
  try {
    console.log(`@unet/data decode + resize: ${photos} photos of 1918 × 1280 to 512 × 512, ${concurrency} in flight; ${tgsCount} TGS images`)
    console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${process.env.UV_THREADPOOL_SIZE ?? 4} libuv threads for sharp)`)
    const dir = join(base, 'photos')
    await writePhotos(dir)
    const dataset = await openDataset(dir, { test: false })
    const entries = dataset.train
    const bytes = await Promise.all(entries.map((e) => e.image.read()))
    const spec = (interpolation: PrepareSpec['interpolation']): PrepareSpec => ({ width: 512, height: 512, mode: 'resize', interpolation })

    console.log(`decode only (sharp, full size)          ${await measure(photos, () => mapLimit(bytes, concurrency, (b) => decodeImage(b)))}`)
    for (const interpolation of ['bilinear', 'area', 'bicubic'] as const) {
      const line = await measure(photos, () => mapLimit(bytes, concurrency, async (b) => {
        const img = await decodeImage(b)
        return prepareImage(img.data, img, spec(interpolation))
      }))
      console.log(`decode + prepareImage ${interpolation.padEnd(8)}          ${line}`)
    }
    console.log(`decode resized by sharp (shrink-on-load) ${await measure(photos, () => mapLimit(bytes, concurrency, (b) => decodeImage(b, 'x', { resize: { width: 512, height: 512 } })))}`)
    const loaderRun = (cache?: string, resizeWith: 'prepare' | 'sharp' = 'prepare') => async () => {
      const loader = createSampleLoader(dataset, entries, { prepare: spec('bilinear'), resizeWith, ...(cache ? { cache } : {}) })
      await mapLimit(entries.map((_, i) => i), concurrency, (i) => loader.get(i))
    }
    console.log(`loader: image + mask, prepare path       ${await measure(photos, loaderRun())}`)
    console.log(`loader: image + mask, sharp path         ${await measure(photos, loaderRun(undefined, 'sharp'))}`)
    const cache = join(base, 'cache')
    await loaderRun(cache)()
    console.log(`loader: from the on-disk cache (512²)    ${await measure(photos, loaderRun(cache))}`)
    await dataset.close()

    const tgs = join(base, 'tgs')
    await writeSyntheticTgs(tgs, { trainCount: tgsCount, testCount: 0, seed: 1 })
    console.log(`TGS set: readTgsDataset (101², 2 PNGs, CSV check) ${await measure(tgsCount, () => readTgsDataset(tgs, { test: false }))}`)
    console.log(`TGS set: readDataset as pairs (@unet/data)        ${await measure(tgsCount, async () => (await readDataset(tgs, { test: false })).dataset.close())}`)
    console.log(`load average at end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  } finally {
    await rm(base, { recursive: true, force: true })
  }
}

await main()
