/**
 * `unet predict` benchmark: peak memory and images/s of @unet/predict's predictRun on
 * - Carvana-sized photos (1918 × 1280 RGB JPEG) predicted by a U-Net at 240 × 160 into a row-major .csv.gz, and
 * - TGS test images (101 × 101 grey PNG) predicted by the seeds' U-Net at 128 × 128 into a column-major .csv.gz,
 * each with 1 view (plain) and 3 views (plain, hflip, blur: the whale-fluke recipe).
 *
 *   pnpm --filter @unet/bench run predict                                 # 2,000 photos, 18,000 TGS images
 *   pnpm --filter @unet/bench run predict -- --carvana 200 --tgs 2000     # a loaded machine
 *
 * Each configuration runs in its own child process, so its peak RSS (getrusage maxrss) is its own. Prints wall
 * seconds, images/s, CPU seconds (user + system of all the process's threads: what other jobs disturb less), peak
 * RSS and the load average. Asserts nothing. The model's weights are random: speed does not depend on them.
 */
import { spawnSync } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}

interface Child {
  run: string
  data: string
  views: string[]
  chunkSize: number
}

async function child(spec: Child): Promise<void> {
  const { initBackend } = await import('@unet/runtime')
  const { predictRun, readRun } = await import('@unet/predict/node')
  const backend = await initBackend({ backend: 'auto' })
  const folder = await readRun(spec.run)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const r = await predictRun(folder, { data: spec.data, out: join(spec.run, 'bench.csv.gz'), tta: spec.views as never, chunkSize: spec.chunkSize })
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  process.stdout.write(
    JSON.stringify({ images: r.images, seconds, cpu: (cpu.user + cpu.system) / 1e6, peakMiB: process.resourceUsage().maxRSS / 1024, backend: `${backend.backend}${backend.native ? ' + oneDNN' : ''}` }) + '\n',
  )
}

async function makeRun(dir: string, input: { width: number; height: number; channels: 1 | 3 }, rle: object, layout: string): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core')
  await import('@tensorflow/tfjs-backend-cpu')
  await tf.setBackend('cpu')
  const { createUnet } = await import('@unet/layers')
  const { saveModel } = await import('@unet/runtime')
  const model = createUnet({ depth: 4, filters: 16, inputShape: [input.height, input.width, input.channels] })
  await saveModel(model, join(dir, 'best'))
  model.dispose()
  const run = {
    format: 'unet-run', version: 2, model: 'best/model.json', input, prepare: { mode: 'resize', interpolation: 'bilinear' }, scale: 'unit',
    output: { classes: 1, activation: 'sigmoid' }, threshold: 0.5, rle, layout, monitor: { name: 'val_dice', mode: 'max', best: 0.9, epoch: 1 }, encoder: 'plain',
  }
  await writeFile(join(dir, 'run.json'), JSON.stringify(run))
}

/** `count` files made of 16 distinct pictures (copies decode just as slowly, and cost no time to make). */
async function fill(folder: string, count: number, ext: string, make: (k: number) => Promise<Buffer>, name: (i: number) => string): Promise<void> {
  await mkdir(folder, { recursive: true })
  const originals: string[] = []
  for (let k = 0; k < Math.min(16, count); k++) {
    const path = join(folder, `${name(k)}.${ext}`)
    await writeFile(path, await make(k))
    originals.push(path)
  }
  for (let i = originals.length; i < count; i++) await copyFile(originals[i % originals.length] as string, join(folder, `${name(i)}.${ext}`))
}

function photo(width: number, height: number, k: number): Promise<Buffer> {
  const rgb = Buffer.alloc(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const car = ((x - width / 2) / (width * 0.35)) ** 2 + ((y - height * 0.55) / (height * 0.3)) ** 2 < 1
      const p = (y * width + x) * 3
      rgb[p] = car ? 180 + ((x * k) % 40) : 200 + ((y + k) % 30)
      rgb[p + 1] = car ? 30 + ((y * 3) % 50) : 200
      rgb[p + 2] = car ? 40 : 205 + ((x + y) % 20)
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer()
}

function tgsImage(k: number): Promise<Buffer> {
  const grey = Buffer.alloc(101 * 101)
  for (let i = 0; i < grey.length; i++) grey[i] = (Math.sin(i * 0.05 + k) * 60 + 120 + ((i * 7 + k) % 23)) & 255
  return sharp(grey, { raw: { width: 101, height: 101, channels: 1 } }).png().toBuffer()
}

async function main(): Promise<void> {
  const childAt = args.indexOf('--child')
  if (childAt >= 0) return child(JSON.parse(args[childAt + 1] as string) as Child)
  const carvana = flag('--carvana', 2000)
  const tgs = flag('--tgs', 18000)
  const root = await mkdtemp(join(tmpdir(), 'bench-predict-'))
  const sets: { name: string; data: string; run: string; count: number; chunkSize: number }[] = []
  if (carvana > 0) {
    const data = join(root, 'carvana')
    await fill(join(data, 'test'), carvana, 'jpg', (k) => photo(1918, 1280, k), (i) => `${i.toString(16).padStart(12, '0')}_${String((i % 16) + 1).padStart(2, '0')}`)
    await fill(join(data, 'train'), 1, 'jpg', (k) => photo(1918, 1280, k), () => 'aaaaaaaaaaaa_01')
    await writeFile(join(data, 'train_masks.csv'), 'img,rle_mask\naaaaaaaaaaaa_01.jpg,1 1\n')
    const run = join(root, 'run-carvana')
    await makeRun(run, { width: 240, height: 160, channels: 3 }, { order: 'row', idColumn: 'img', idSuffix: '.jpg' }, 'carvana')
    sets.push({ name: `Carvana ${carvana} × 1918×1280 RGB → U-Net 240×160`, data, run, count: carvana, chunkSize: 8 })
  }
  if (tgs > 0) {
    const data = join(root, 'tgs')
    await fill(join(data, 'test', 'images'), tgs, 'png', tgsImage, (i) => i.toString(16).padStart(10, '0'))
    await writeFile(join(data, 'depths.csv'), 'id,z\n')
    const run = join(root, 'run-tgs')
    await makeRun(run, { width: 128, height: 128, channels: 1 }, { order: 'column', idColumn: 'id', idSuffix: '' }, 'tgs')
    sets.push({ name: `TGS ${tgs} × 101×101 grey → U-Net 128×128`, data, run, count: tgs, chunkSize: 64 })
  }
  const self = fileURLToPath(import.meta.url)
  console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log('set | views | images | wall s | images/s | CPU s | CPU s / image | peak RSS MiB | backend')
  for (const set of sets) {
    for (const views of [[], ['hflip', 'blur']]) {
      const spec: Child = { run: set.run, data: set.data, views, chunkSize: set.chunkSize }
      const r = spawnSync(process.execPath, [...process.execArgv, self, '--child', JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 24 })
      const line = r.stdout.trim().split('\n').pop() ?? ''
      if (r.status !== 0 || !line.startsWith('{')) {
        console.log(`${set.name} | ${views.length + 1} | failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`)
        continue
      }
      const m = JSON.parse(line) as { images: number; seconds: number; cpu: number; peakMiB: number; backend: string }
      console.log(
        `${set.name} | ${views.length + 1} | ${m.images} | ${m.seconds.toFixed(1)} | ${(m.images / m.seconds).toFixed(1)} | ${m.cpu.toFixed(1)} | ${(m.cpu / m.images).toFixed(3)} | ${m.peakMiB.toFixed(0)} | ${m.backend}`,
      )
    }
  }
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
}

await main()
