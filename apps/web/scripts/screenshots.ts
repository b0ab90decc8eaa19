// Screenshots of the page on the demo runs (scripts/demo-runs.ts), desktop and phone width, grid and detail.
// Usage: tsx scripts/screenshots.ts [DEMO=/tmp/unet-web-demo] [OUT=/tmp/unet-web-screenshots]
import { existsSync } from 'node:fs'
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { serve } from '../src/server'
import { buildPage, findChromium, launch, segment } from '../test/browser'

const demo = process.argv[2] ?? '/tmp/unet-web-demo'
const out = process.argv[3] ?? '/tmp/unet-web-screenshots'
await mkdir(out, { recursive: true })
const chromium = findChromium()
if (chromium.path === null) throw new Error(chromium.reason)
const pageDir = await buildPage()
const browser = await launch(chromium.path, { webgl: process.env.WEBGL === '1' })
const images = (await readdir(join(demo, 'images'))).sort()
try {
  for (const [name, prefix] of [['tgs', 'tgs_'], ['deep', 'tgs_'], ['rgb', 'car_']] as const) {
    if (!existsSync(join(demo, name, 'run.json'))) {
      console.log(`${name}: no run in ${demo}, skipped`)
      continue
    }
    const server = await serve({ run: join(demo, name), port: 0, pageDir, log: null })
    try {
      const files = images.filter((f) => f.startsWith(prefix)).map((f) => join(demo, 'images', f))
      for (const [label, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844, deviceScaleFactor: 2, isMobile: true }]] as const) {
        const page = await browser.newPage()
        page.on('pageerror', (e) => console.error('[page]', e))
        await page.setViewport(viewport)
        const { ms } = await segment(page, server.url, files, process.env.BACKEND ?? null)
        console.log(`${name} ${label}: ${files.length} images in ${ms} ms on ${await page.evaluate(() => window.unetPage.backend())}`)
        await page.screenshot({ path: join(out, `${name}-${label}.png`), fullPage: true })
        if (label === 'desktop') {
          await page.click('.card.done .actions button')
          await page.waitForFunction(() => (document.getElementById('detail') as HTMLDialogElement).open)
          await new Promise((r) => setTimeout(r, 300))
          await page.screenshot({ path: join(out, `${name}-detail.png`) })
          await page.keyboard.press('Escape')
          await page.click('input[name="view"][value="probability"]')
          await page.evaluate(() => window.unetPage.setThreshold(0.3))
          await new Promise((r) => setTimeout(r, 500))
          await page.screenshot({ path: join(out, `${name}-probability.png`) })
        }
        await page.close()
      }
    } finally {
      await server.close()
    }
  }
} finally {
  await browser.close()
}
console.log(`screenshots in ${out}`)
