// Figures for the note: the page's JS size (gzipped), time to first prediction, and images/s on each backend
// headless Chromium offers (webgl through SwiftShader, software). The model has the shape of `unet train`'s
// default run (128×128 grey, depth 4, 8 filters) with seeded weights; images are TGS-like 101×101 PNGs.
// Usage: tsx scripts/figures.ts [IMAGES=48] [REPEATS=3]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { serve } from '../src/server'
import { buildPage, findChromium, launch, segment } from '../test/browser'
import { makeRun, tgsLikeImage, writePng } from '../test/fixture'

const count = Number(process.argv[2] ?? 48)
const repeats = Number(process.argv[3] ?? 3)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

const pageDir = await buildPage()
const assets = join(pageDir, 'assets')
const gz = (file: string): number => gzipSync(readFileSync(join(assets, file)), { level: 9 }).length
const js = readdirSync(assets).filter((f) => f.endsWith('.js'))
const wasm = readdirSync(assets).filter((f) => f.endsWith('.wasm'))
const kb = (n: number): string => `${(n / 1024).toFixed(0)} kB`
console.log(`page JS, gzipped: all chunks ${kb(js.reduce((s, f) => s + gz(f), 0))} (${js.length} files); main ${kb(gz(js.find((f) => f.startsWith('index-'))!))}, worker ${kb(gz(js.find((f) => f.startsWith('worker-'))!))}`)
for (const f of js.filter((f) => !/^(index|worker)-/.test(f))) console.log(`  chunk ${f}: ${kb(gz(f))}`)
for (const f of wasm) console.log(`  wasm ${f}: ${kb(gz(f))} gzipped`)

const root = mkdtempSync(join(tmpdir(), 'unet-web-figures-'))
const chromium = findChromium()
if (chromium.path === null) throw new Error(chromium.reason)
try {
  await makeRun(join(root, 'run'), { width: 128, height: 128, channels: 1, mode: 'resize', activation: 'sigmoid', threshold: 0.5, order: 'column', layout: 'tgs', depth: 4, filters: 8, seed: 5 })
  const files: string[] = []
  for (let i = 0; i < count; i++) {
    const file = join(root, `img_${String(i).padStart(3, '0')}.png`)
    await writePng(file, tgsLikeImage(101, 101, 100 + i), 101, 101, 1)
    files.push(file)
  }
  const server = await serve({ run: join(root, 'run'), port: 0, pageDir, log: null })
  const browser = await launch(chromium.path, { webgl: true })
  try {
    for (const backend of ['webgl', 'wasm', 'cpu']) {
      const firsts: number[] = []
      const rates: number[] = []
      let used = ''
      for (let r = 0; r < repeats; r++) {
        const page = await browser.newPage()
        // time to first prediction: from opening the page to the first image's mask, one image dropped at once
        const opened = Date.now()
        await segment(page, server.url, [files[0]!], backend)
        firsts.push(Date.now() - opened)
        used = await page.evaluate(() => `${window.unetPage.backend()}, ${document.body.dataset.backendDetail}`)
        await page.click('#clear')
        const { ms } = await segment(page, `${server.url}`, files, backend)
        rates.push(count / (ms / 1000))
        await page.close()
      }
      console.log(`${backend} (page says ${used}): time to first prediction ${median(firsts)} ms (median of ${repeats}: ${firsts.join(', ')}); ${median(rates).toFixed(1)} images/s over ${count} images (${rates.map((x) => x.toFixed(1)).join(', ')})`)
    }
  } finally {
    await browser.close()
    await server.close()
  }
} finally {
  rmSync(root, { recursive: true, force: true })
}
console.log(`machine: ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}; process CPU ${(process.cpuUsage().user / 1e6).toFixed(1)} s user (Chromium's own CPU not included)`)
