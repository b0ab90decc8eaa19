// Shared by the browser test, the screenshot script and the figures script: build the page, find Chromium,
// open the page served by serve() on a run, upload images and wait for the page to finish.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, ElementHandle, Page } from 'puppeteer-core'
import puppeteer from 'puppeteer-core'

const here = fileURLToPath(new URL('.', import.meta.url))

/** The system Chromium (Debian's), or null with the reason it cannot be used. Nothing downloads a browser. */
export function findChromium(): { path: string } | { path: null; reason: string } {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p)
  const path = candidates.find((p) => existsSync(p))
  return path ? { path } : { path: null, reason: `no Chromium at ${candidates.join(', ')}; run apps/web/scripts/install-test-deps.sh (apt-get install chromium) or set CHROMIUM_PATH` }
}

/** Where the page is built (apps/web/dist/page). */
export function pageDir(): string {
  return join(here, '..', 'dist', 'page')
}

/** Sources the page does not bundle. */
const SERVER_ONLY = ['server.ts', 'index.ts', 'errors.ts']

function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path))
    else if (!entry.name.endsWith('.test.ts') && !SERVER_ONLY.includes(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

/**
 * The built page (dist/page), built again with the project's vite config when any source is newer than it,
 * so the test always drives the page of the code under test.
 */
export async function buildPage(): Promise<string> {
  const appDir = join(here, '..')
  const outDir = pageDir()
  const index = join(outDir, 'index.html')
  const stale = !existsSync(index) || statSync(index).mtimeMs < Math.max(newestSource(join(appDir, 'src')), statSync(join(appDir, 'vite.config.ts')).mtimeMs)
  if (stale) {
    const { build } = await import('vite')
    await build({ configFile: join(appDir, 'vite.config.ts'), logLevel: 'error' })
  }
  return outDir
}

/**
 * Starts headless Chromium. `webgl` adds SwiftShader (software WebGL), which headless Chromium offers
 * only when asked.
 */
export async function launch(executablePath: string, options: { webgl?: boolean } = {}): Promise<Browser> {
  const args = ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions']
  if (options.webgl) args.push('--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist')
  else args.push('--disable-gpu')
  return puppeteer.launch({ executablePath, headless: true, args, protocolTimeout: 120_000 })
}

/** Waits until the page's body says one of the states (data-state), or throws with the page's status line. */
export async function waitForState(page: Page, states: string[], timeout = 60_000): Promise<string> {
  try {
    await page.waitForFunction((s: string[]) => s.includes(document.body.dataset.state ?? ''), { timeout, polling: 50 }, states)
  } catch (error) {
    const status = await page.$eval('#status', (e) => `${document.body.dataset.state}: ${e.textContent}`).catch(() => '?')
    throw new Error(`page did not reach ${states.join('/')} (${status})`, { cause: error })
  }
  return page.evaluate(() => document.body.dataset.state ?? '')
}

/** Opens the page, waits for the model, uploads the files through the image input, waits until all are done. */
export async function segment(page: Page, url: string, files: string[], backend: string | null): Promise<{ ms: number; state: string }> {
  await page.goto(backend ? `${url}?backend=${backend}` : url, { waitUntil: 'load' })
  const state = await waitForState(page, ['ready', 'failed', 'no-model'])
  if (state !== 'ready') throw new Error(`page is ${state}: ${await page.$eval('#status', (e) => e.textContent)}`)
  const input = await page.$('#image-files') as ElementHandle<HTMLInputElement> | null
  const started = Date.now()
  await input!.uploadFile(...files)
  await page.waitForFunction((n: number) => window.unetPage.results().filter((r) => r.status !== 'queued').length >= n && document.body.dataset.state === 'done', { timeout: 120_000, polling: 20 }, files.length)
  return { ms: Date.now() - started, state: await page.evaluate(() => document.body.dataset.state ?? '') }
}
