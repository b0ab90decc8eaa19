// The page: load a run, send images to the worker in batches, draw masks and probability maps, and let the
// user move the thresholds (the mask's, and a "has mask" classifier's empty threshold) and download masks.
// Plain DOM: the page is small enough not to need a framework.
import { keepsMask } from '@unet/predict'
import { formatSubmission } from '@unet/rle'
import { countAbove, maskAt, maskRle, paintView, submissionId } from '../mask'
import { encodePng, restoreProbabilities } from '../prepare'
import { parseRun, type RunSpec } from '../run'
import type { FromWorker, ModelSource, ToWorker } from './protocol'
import './style.css'

type State = 'no-model' | 'loading' | 'ready' | 'predicting' | 'done' | 'failed'
type View = 'mask' | 'probability'

interface Item {
  id: number
  name: string
  file: File
  status: 'queued' | 'done' | 'error'
  error?: string
  width: number
  height: number
  channels: number
  modelProbabilities: Float32Array | null
  /** at the image's size; dropped when the cache is over budget and restored again from modelProbabilities */
  probabilities: Float32Array | null
  coverage: number
  /** the "has mask" classifier's probability; null when the model has none */
  hasMask: number | null
  thumb: ImageBitmap | null
  card: HTMLLIElement
  canvas: HTMLCanvasElement
  coverageText: HTMLElement
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const params = new URLSearchParams(location.search)
const THUMB = 224
/** Bytes of full-size probability maps kept; beyond it the oldest are restored again when needed. */
const CACHE_BYTES = 384 * 1024 * 1024
const MAX_IN_FLIGHT = 2

const ui = {
  status: $<HTMLParagraphElement>('status'),
  modelInfo: $<HTMLDListElement>('model-info'),
  loader: $<HTMLDetailsElement>('model-loader'),
  urlForm: $<HTMLFormElement>('url-form'),
  runUrl: $<HTMLInputElement>('run-url'),
  runFiles: $<HTMLInputElement>('run-files'),
  runFolder: $<HTMLInputElement>('run-folder'),
  imageFiles: $<HTMLInputElement>('image-files'),
  drop: $<HTMLDivElement>('drop'),
  threshold: $<HTMLInputElement>('threshold'),
  thresholdOut: $<HTMLOutputElement>('threshold-out'),
  emptyRow: $<HTMLDivElement>('empty-row'),
  emptyThreshold: $<HTMLInputElement>('empty-threshold'),
  emptyThresholdOut: $<HTMLOutputElement>('empty-threshold-out'),
  downloadAll: $<HTMLButtonElement>('download-all'),
  clear: $<HTMLButtonElement>('clear'),
  progressRow: $<HTMLDivElement>('progress-row'),
  progress: $<HTMLProgressElement>('progress'),
  progressText: $<HTMLSpanElement>('progress-text'),
  grid: $<HTMLUListElement>('grid'),
  detail: $<HTMLDialogElement>('detail'),
  detailTitle: $<HTMLHeadingElement>('detail-title'),
  detailStats: $<HTMLParagraphElement>('detail-stats'),
  detailOverlay: $<HTMLCanvasElement>('detail-overlay'),
  detailProbability: $<HTMLCanvasElement>('detail-probability'),
  detailOverlayCaption: $<HTMLElement>('detail-overlay-caption'),
  fit: $<HTMLInputElement>('fit'),
  detailPng: $<HTMLButtonElement>('detail-png'),
  detailRle: $<HTMLButtonElement>('detail-rle'),
  detailClose: $<HTMLButtonElement>('detail-close'),
}

let run: RunSpec | null = null
let backend = ''
let worker: Worker | null = null
let threshold = 0.5
/** Images whose classifier probability is below it get an empty mask; null for a run without the classifier. */
let emptyThreshold: number | null = null
let view: View = 'mask'
const items = new Map<number, Item>()
const pending: Item[] = []
let inFlight = 0
let nextId = 1
let detailItem: Item | null = null
let timing = { started: 0, done: 0, firstResultMs: NaN, loadMs: NaN, lastResult: 0 }
/** images/s of the images being predicted now */
let rate = { started: 0, count: 0, last: 0 }
let cachedBytes = 0
const cacheOrder: Item[] = []

function setState(state: State, message?: string): void {
  document.body.dataset.state = state
  if (message !== undefined) ui.status.textContent = message
}

// ---------- the model ----------

function describeRun(r: RunSpec, source: string): void {
  const rows: [string, string][] = [
    ['Run', source],
    ['Model input', `${r.input.width}×${r.input.height}, ${r.input.channels === 1 ? 'grey' : 'RGB'}`],
    ['Preparing', `${r.prepare.mode}${r.prepare.mode === 'resize' ? '' : ` (${r.prepare.pad} padding)`}, ${r.prepare.interpolation}`],
    ['Threshold', `${r.threshold} (chosen on validation)`],
    ...(r.emptyThreshold === null ? [] : [['Empty images', `masks emptied where the "has mask" classifier is below ${r.emptyThreshold}, as unet predict does`] as [string, string]]),
    ['RLE', `${r.rle.order}, ${r.rle.idColumn} column`],
  ]
  if (r.monitor.best !== null) rows.push(['Best score', `${r.monitor.name} ${r.monitor.best.toFixed(4)} at epoch ${r.monitor.epoch}`])
  rows.push(['Backend', backend || '…'])
  ui.modelInfo.replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt')
      dt.textContent = k
      const dd = document.createElement('dd')
      dd.textContent = v
      if (k === 'Backend') dd.id = 'backend'
      return [dt, dd]
    }),
  )
  ui.modelInfo.hidden = false
}

function startWorker(r: RunSpec, model: ModelSource, source: string): void {
  worker?.terminate()
  run = r
  backend = ''
  threshold = r.threshold
  ui.threshold.value = String(r.threshold)
  ui.thresholdOut.textContent = r.threshold.toFixed(2)
  emptyThreshold = r.emptyThreshold
  ui.emptyRow.hidden = r.emptyThreshold === null
  if (r.emptyThreshold !== null) {
    ui.emptyThreshold.value = String(r.emptyThreshold)
    ui.emptyThresholdOut.textContent = r.emptyThreshold.toFixed(2)
  }
  describeRun(r, source)
  setState('loading', `Loading the model (${r.modelPath}) and starting TensorFlow.js…`)
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })
  worker.onmessage = (event: MessageEvent<FromWorker>) => onWorkerMessage(event.data)
  worker.onerror = (event) => setState('failed', `The page's worker stopped: ${event.message}`)
  timing = { started: performance.now(), done: 0, firstResultMs: NaN, loadMs: NaN, lastResult: 0 }
  send({ type: 'init', run: r, model, backend: params.get('backend') })
  // images already on the page are predicted again with the new model
  for (const item of items.values()) resetItem(item)
}

function send(message: ToWorker): void {
  worker!.postMessage(message)
}

async function loadFromUrl(url: string, quietIfMissing: boolean): Promise<void> {
  const runUrl = new URL(url, location.href)
  let text: string
  try {
    const response = await fetch(runUrl, { cache: 'no-cache' })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    text = await response.text()
  } catch (error) {
    if (quietIfMissing) {
      setState('no-model', 'No run here yet: load one with `unet serve --model RUN`, a run.json URL, or its files (below).')
      ui.loader.open = true
      return
    }
    setState('failed', `Cannot read ${runUrl.href}: ${(error as Error).message}. Check the address, or that the server allows this page (CORS).`)
    return
  }
  try {
    const r = parseRun(text, runUrl.href)
    startWorker(r, { kind: 'url', url: new URL(r.modelPath, runUrl).href }, runUrl.pathname.endsWith('/run/run.json') && runUrl.origin === location.origin ? 'served by unet serve' : runUrl.href)
    ui.loader.open = false
  } catch (error) {
    setState('failed', (error as Error).message)
  }
}

async function loadFromFiles(files: File[]): Promise<void> {
  const runFile = files.find((f) => f.name === 'run.json')
  if (!runFile) {
    setState(run ? document.body.dataset.state as State : 'no-model', 'Among the run files there must be run.json (with model.json and its .bin files).')
    return
  }
  try {
    const r = parseRun(await runFile.text(), runFile.name)
    startWorker(r, { kind: 'files', files: files.filter((f) => f.name !== 'run.json') }, `files: ${files.length} dropped`)
    ui.loader.open = false
  } catch (error) {
    setState('failed', (error as Error).message)
  }
}

// ---------- images ----------

function addImages(files: File[]): void {
  const images = files.filter((f) => /^image\//.test(f.type) || /\.(png|jpe?g|gif|webp)$/i.test(f.name))
  for (const file of images) {
    const item = createItem(file)
    items.set(item.id, item)
    ui.grid.append(item.card)
    pending.push(item)
  }
  const skipped = files.length - images.length
  if (skipped > 0) ui.status.textContent = `${skipped} file${skipped === 1 ? '' : 's'} skipped: not PNG, JPEG, GIF or WebP.`
  // the rate counts from when the page starts on these images, not from an earlier, finished drop
  if (images.length > 0 && inFlight === 0 && pending.length === images.length) rate = { started: performance.now(), count: 0, last: 0 }
  updateProgress()
  pump()
}

function createItem(file: File): Item {
  const card = document.createElement('li')
  card.className = 'card queued'
  const figure = document.createElement('figure')
  const canvas = document.createElement('canvas')
  canvas.width = 1
  canvas.height = 1
  canvas.setAttribute('role', 'img')
  canvas.setAttribute('aria-label', `${file.name}: waiting`)
  const caption = document.createElement('figcaption')
  const name = document.createElement('span')
  name.className = 'name'
  name.textContent = file.name
  const coverageText = document.createElement('span')
  coverageText.className = 'coverage'
  coverageText.textContent = 'waiting…'
  caption.append(name, coverageText)
  figure.append(canvas, caption)
  const actions = document.createElement('div')
  actions.className = 'actions'
  const item: Item = {
    id: nextId++, name: file.name, file, status: 'queued', width: 0, height: 0, channels: 0,
    modelProbabilities: null, probabilities: null, coverage: NaN, hasMask: null, thumb: null, card, canvas, coverageText,
  }
  const button = (label: string, title: string, onClick: () => void): HTMLButtonElement => {
    const b = document.createElement('button')
    b.type = 'button'
    b.textContent = label
    b.title = title
    b.setAttribute('aria-label', `${title}: ${file.name}`)
    b.disabled = true
    b.addEventListener('click', onClick)
    return b
  }
  actions.append(
    button('Open', 'Show at original size', () => openDetail(item)),
    button('Mask PNG', 'Download the mask PNG', () => void downloadMask(item)),
    button('RLE', 'Download the mask as RLE', () => downloadRle(item)),
  )
  card.append(figure, actions)
  card.dataset.name = file.name
  return item
}

function resetItem(item: Item): void {
  if (item.status === 'queued') return
  dropProbabilities(item)
  item.status = 'queued'
  item.modelProbabilities = null
  item.hasMask = null
  item.card.className = 'card queued'
  item.coverageText.textContent = 'waiting…'
  for (const b of item.card.querySelectorAll('button')) b.disabled = true
  pending.push(item)
}

function pump(): void {
  if (!worker || !run || document.body.dataset.state === 'loading' || document.body.dataset.state === 'failed') return
  const batchSize = Math.max(1, Math.min(8, Math.floor((1 << 20) / (run.input.width * run.input.height))))
  while (inFlight < MAX_IN_FLIGHT && pending.length > 0) {
    const batch = pending.splice(0, batchSize).filter((i) => items.has(i.id))
    if (batch.length === 0) continue
    inFlight++
    send({ type: 'predict', items: batch.map((i) => ({ id: i.id, file: i.file })) })
  }
  if (inFlight > 0) setState('predicting')
}

function onWorkerMessage(message: FromWorker): void {
  switch (message.type) {
    case 'ready': {
      backend = message.backend
      timing.loadMs = message.loadMs
      const fallback = message.tried.length > 0 ? ` (tried first: ${message.tried.join('; ')})` : ''
      document.body.dataset.backend = backend
      const dd = document.getElementById('backend')
      if (dd) dd.textContent = `${backend} (${message.detail})${fallback}`
      document.body.dataset.backendDetail = message.detail
      setState('ready', `Model ready on the ${backend} backend (${message.detail}) in ${(message.loadMs / 1000).toFixed(1)} s${fallback}. Drop or choose images.`)
      pump()
      if (pending.length === 0 && inFlight === 0 && items.size > 0) setState('done')
      return
    }
    case 'failed':
      setState('failed', `The model cannot be loaded: ${message.message}`)
      ui.loader.open = true
      return
    case 'result': {
      const item = items.get(message.id)
      if (!item) return
      if (Number.isNaN(timing.firstResultMs)) timing.firstResultMs = performance.now() - timing.started
      item.status = 'done'
      item.width = message.width
      item.height = message.height
      item.channels = message.channels
      item.modelProbabilities = message.modelProbabilities
      item.hasMask = message.hasMask
      keepProbabilities(item, message.probabilities)
      item.card.className = 'card done'
      for (const b of item.card.querySelectorAll('button')) b.disabled = false
      void drawCard(item)
      timing.done++
      timing.lastResult = performance.now()
      rate.count++
      rate.last = timing.lastResult
      return
    }
    case 'error': {
      const item = items.get(message.id)
      if (!item) return
      item.status = 'error'
      item.error = message.message
      item.card.className = 'card error'
      item.coverageText.textContent = message.message
      item.canvas.setAttribute('aria-label', `${item.name}: ${message.message}`)
      timing.done++
      timing.lastResult = performance.now()
      return
    }
    case 'batch':
      inFlight--
      updateProgress()
      pump()
      if (inFlight === 0 && pending.length === 0) {
        const ok = [...items.values()].filter((i) => i.status === 'done').length
        const failed = [...items.values()].filter((i) => i.status === 'error').length
        setState('done', `${ok} image${ok === 1 ? '' : 's'} segmented on ${backend}${failed ? `, ${failed} could not be read (see their cards)` : ''}.`)
      }
  }
}

function updateProgress(): void {
  const total = items.size
  const done = [...items.values()].filter((i) => i.status !== 'queued').length
  ui.progressRow.hidden = total === 0
  ui.progress.max = Math.max(1, total)
  ui.progress.value = done
  // over the time spent predicting, so the rate does not fall while the page sits idle afterwards
  const idle = inFlight === 0 && pending.length === 0
  const seconds = ((idle ? rate.last : performance.now()) - rate.started) / 1000
  const speed = rate.count > 0 && seconds > 0 ? ` · ${(rate.count / seconds).toFixed(1)} images/s` : ''
  ui.progressText.textContent = `${done} of ${total} images${speed}${backend ? ` · ${backend}` : ''}`
  ui.downloadAll.disabled = ![...items.values()].some((i) => i.status === 'done')
}

// ---------- probabilities, bounded in memory ----------

function keepProbabilities(item: Item, probabilities: Float32Array): void {
  item.probabilities = probabilities
  cachedBytes += probabilities.byteLength
  cacheOrder.push(item)
  while (cachedBytes > CACHE_BYTES && cacheOrder.length > 1) {
    const old = cacheOrder.shift()!
    if (old !== item && old !== detailItem) dropProbabilities(old)
    else cacheOrder.push(old)
    if (cacheOrder[0] === item) break
  }
}

function dropProbabilities(item: Item): void {
  if (!item.probabilities) return
  cachedBytes -= item.probabilities.byteLength
  item.probabilities = null
  const k = cacheOrder.indexOf(item)
  if (k >= 0) cacheOrder.splice(k, 1)
}

/** The item's probabilities at its own size, restored again from the model-size map when they were dropped. */
function probabilitiesOf(item: Item): Float32Array {
  if (item.probabilities) return item.probabilities
  const r = run!
  const restored = restoreProbabilities(item.modelProbabilities!, item, { width: r.input.width, height: r.input.height, ...r.prepare })
  keepProbabilities(item, restored)
  return restored
}

/** Whether the classifier empties the item's mask at the current empty threshold (@unet/predict's rule). */
function emptied(item: Item): boolean {
  return !keepsMask(item.hasMask, emptyThreshold)
}

let zeros = new Float32Array(0)
/**
 * What the page shows and downloads for the item, as `unet predict` writes it: its probabilities, or all zeros
 * when the classifier empties it. The zeros are one shared buffer, only ever read.
 */
function shownProbabilities(item: Item): Float32Array {
  if (!emptied(item)) return probabilitiesOf(item)
  const n = item.width * item.height
  if (zeros.length < n) zeros = new Float32Array(n)
  return zeros.subarray(0, n)
}

// ---------- drawing ----------

function fitThumb(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, THUMB / Math.max(width, height))
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) }
}

function drawLayer(canvas: HTMLCanvasElement, image: CanvasImageSource | null, probabilities: Float32Array, size: { width: number; height: number }, mode: View): void {
  const context = canvas.getContext('2d')!
  const layer = context.createImageData(canvas.width, canvas.height)
  paintView(layer.data, canvas, probabilities, size, mode, threshold)
  if (mode === 'probability' || !image) {
    context.putImageData(layer, 0, 0)
    return
  }
  context.drawImage(image, 0, 0, canvas.width, canvas.height)
  // putImageData would replace the image; drawImage blends the half-transparent mask over it
  const overlay = new OffscreenCanvas(canvas.width, canvas.height)
  overlay.getContext('2d')!.putImageData(layer, 0, 0)
  context.drawImage(overlay, 0, 0)
}

function coverageLabel(item: Item): string {
  return `${(item.coverage * 100).toFixed(item.coverage > 0 && item.coverage < 0.001 ? 3 : 1)}% covered`
}

/** The classifier's word on the item: its probability, and whether it empties the mask. */
function classifierLabel(item: Item): string {
  if (item.hasMask === null) return ''
  const p = `has mask ${item.hasMask.toFixed(2)}`
  return emptied(item) ? `emptied: ${p}, below ${emptyThreshold!.toFixed(2)}` : p
}

async function drawCard(item: Item): Promise<void> {
  const size = fitThumb(item.width, item.height)
  if (!item.thumb) {
    item.thumb = await createImageBitmap(item.file, { resizeWidth: size.width, resizeHeight: size.height, resizeQuality: 'medium' }).catch(() => null)
  }
  const probabilities = shownProbabilities(item)
  item.coverage = countAbove(probabilities, threshold) / probabilities.length
  item.canvas.width = size.width
  item.canvas.height = size.height
  drawLayer(item.canvas, item.thumb, probabilities, item, view)
  const classifier = classifierLabel(item)
  item.coverageText.textContent = [`${item.width}×${item.height}`, coverageLabel(item), classifier].filter(Boolean).join(' · ')
  item.canvas.setAttribute('aria-label', `${item.name}: ${view === 'mask' ? 'mask over the image' : 'probability map'}, ${[coverageLabel(item), classifier].filter(Boolean).join(', ')}`)
  item.card.dataset.coverage = String(item.coverage)
  item.card.classList.toggle('emptied', emptied(item))
  if (item.hasMask !== null) item.card.dataset.hasMask = String(item.hasMask)
}

let redrawToken = 0
/** Redraws every card at the current threshold and view, a few at a time so the slider stays responsive. */
async function redrawAll(): Promise<void> {
  const token = ++redrawToken
  if (detailItem) drawDetail(detailItem)
  let sliceStart = performance.now()
  for (const item of items.values()) {
    if (token !== redrawToken) return
    if (item.status !== 'done') continue
    await drawCard(item)
    if (performance.now() - sliceStart > 12) {
      await new Promise((r) => setTimeout(r, 0))
      sliceStart = performance.now()
    }
  }
  updateProgress()
}

async function openDetail(item: Item): Promise<void> {
  detailItem = item
  ui.detailTitle.textContent = item.name
  ui.detail.showModal()
  drawDetail(item)
  ui.detailClose.focus()
}

let detailBitmap: { item: Item; bitmap: ImageBitmap } | null = null
async function drawDetail(item: Item): Promise<void> {
  if (detailBitmap?.item !== item) {
    detailBitmap?.bitmap.close()
    detailBitmap = { item, bitmap: await createImageBitmap(item.file) }
  }
  const probabilities = shownProbabilities(item)
  const { width, height } = item
  for (const c of [ui.detailOverlay, ui.detailProbability]) {
    c.width = width
    c.height = height
  }
  drawLayer(ui.detailOverlay, detailBitmap.bitmap, probabilities, item, 'mask')
  drawLayer(ui.detailProbability, null, probabilities, item, 'probability')
  const count = countAbove(probabilities, threshold)
  const classifier = classifierLabel(item)
  ui.detailStats.textContent = `${width}×${height} pixels, ${item.channels === 1 ? 'grey' : 'colour'} · ${count} mask pixels at threshold ${threshold.toFixed(2)} · ${((count / probabilities.length) * 100).toFixed(2)}% covered${classifier ? ` · ${classifier}` : ''}`
  ui.detailOverlayCaption.textContent = `Mask over the image, ${width}×${height} (original size)`
}

// ---------- downloads ----------

function save(blob: Blob, name: string): void {
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000)
}

function stem(name: string): string {
  return name.replace(/\.[^.]+$/, '')
}

async function downloadMask(item: Item): Promise<void> {
  const { mask } = maskAt(shownProbabilities(item), threshold)
  for (let i = 0; i < mask.length; i++) mask[i] = mask[i]! * 255
  save(await encodePng(mask, item), `${stem(item.name)}_mask.png`)
}

function rleRows(list: Item[]): string {
  const r = run!
  return formatSubmission(
    list.map((item) => ({ id: submissionId(item.name, r), rleMask: maskRle(maskAt(shownProbabilities(item), threshold).mask, item, r) })),
    { columns: [r.rle.idColumn, 'rle_mask'], validateRle: false },
  )
}

function downloadRle(item: Item): void {
  save(new Blob([rleRows([item])], { type: 'text/csv' }), `${stem(item.name)}_rle.csv`)
}

function downloadAll(): void {
  try {
    save(new Blob([rleRows([...items.values()].filter((i) => i.status === 'done'))], { type: 'text/csv' }), 'submission.csv')
  } catch (error) {
    ui.status.textContent = `Cannot write the CSV: ${(error as Error).message}`
  }
}

// ---------- wiring ----------

function filesOf(list: FileList | null): File[] {
  return list ? [...list] : []
}

function onDropped(files: File[]): void {
  const runFiles = files.filter((f) => /\.(json|bin)$/i.test(f.name))
  if (runFiles.some((f) => f.name === 'run.json')) void loadFromFiles(runFiles)
  const images = files.filter((f) => !/\.(json|bin)$/i.test(f.name))
  if (images.length > 0) addImages(images)
}

ui.imageFiles.addEventListener('change', () => {
  addImages(filesOf(ui.imageFiles.files))
  ui.imageFiles.value = ''
})
ui.runFiles.addEventListener('change', () => void loadFromFiles(filesOf(ui.runFiles.files)))
ui.runFolder.addEventListener('change', () => void loadFromFiles(filesOf(ui.runFolder.files)))
ui.urlForm.addEventListener('submit', (event) => {
  event.preventDefault()
  if (ui.runUrl.value.trim()) void loadFromUrl(ui.runUrl.value.trim(), false)
})
ui.threshold.addEventListener('input', () => {
  threshold = Number(ui.threshold.value)
  ui.thresholdOut.textContent = threshold.toFixed(2)
  void redrawAll()
})
ui.emptyThreshold.addEventListener('input', () => {
  emptyThreshold = Number(ui.emptyThreshold.value)
  ui.emptyThresholdOut.textContent = emptyThreshold.toFixed(2)
  void redrawAll()
})
for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="view"]')) {
  radio.addEventListener('change', () => {
    if (!radio.checked) return
    view = radio.value as View
    void redrawAll()
  })
}
ui.downloadAll.addEventListener('click', downloadAll)
ui.clear.addEventListener('click', () => {
  pending.length = 0
  for (const item of items.values()) {
    dropProbabilities(item)
    item.thumb?.close()
  }
  items.clear()
  ui.grid.replaceChildren()
  timing = { ...timing, started: performance.now(), done: 0 }
  updateProgress()
})
ui.fit.addEventListener('change', () => ui.detail.classList.toggle('actual', !ui.fit.checked))
ui.detailClose.addEventListener('click', () => ui.detail.close())
ui.detail.addEventListener('close', () => {
  detailItem = null
})
ui.detailPng.addEventListener('click', () => detailItem && void downloadMask(detailItem))
ui.detailRle.addEventListener('click', () => detailItem && downloadRle(detailItem))

// the whole page takes drops, so a drop that misses the drop zone does not open the file in the tab
document.addEventListener('dragover', (event) => {
  event.preventDefault()
  ui.drop.classList.add('over')
})
document.addEventListener('dragleave', (event) => {
  if (event.relatedTarget === null) ui.drop.classList.remove('over')
})
document.addEventListener('drop', (event) => {
  event.preventDefault()
  ui.drop.classList.remove('over')
  onDropped(filesOf(event.dataTransfer?.files ?? null))
})

// ---------- for tests and benchmarks: read what the page computed ----------

declare global {
  interface Window {
    unetPage: {
      state: () => string
      backend: () => string
      timing: () => typeof timing
      setThreshold: (t: number) => void
      /** moves the empty threshold (runs with a "has mask" classifier) */
      setEmptyThreshold: (t: number) => void
      emptyThreshold: () => number | null
      results: () => { name: string; status: string; error?: string; width: number; height: number; channels: number; coverage: number; hasMask: number | null; emptied: boolean }[]
      probabilities: (name: string) => number[]
      mask: (name: string) => number[]
      rle: (name: string) => string
    }
  }
}

function byName(name: string): Item {
  const item = [...items.values()].find((i) => i.name === name)
  if (!item || item.status !== 'done') throw new Error(`no prediction for ${name}`)
  return item
}

window.unetPage = {
  state: () => document.body.dataset.state ?? '',
  backend: () => backend,
  timing: () => ({ ...timing }),
  setThreshold: (t) => {
    ui.threshold.value = String(t)
    ui.threshold.dispatchEvent(new Event('input'))
  },
  setEmptyThreshold: (t) => {
    ui.emptyThreshold.value = String(t)
    ui.emptyThreshold.dispatchEvent(new Event('input'))
  },
  emptyThreshold: () => emptyThreshold,
  results: () =>
    [...items.values()].map((i) => ({
      name: i.name, status: i.status, ...(i.error ? { error: i.error } : {}), width: i.width, height: i.height, channels: i.channels,
      coverage: i.coverage, hasMask: i.hasMask, emptied: i.status === 'done' && emptied(i),
    })),
  // what unet predict writes with --probabilities: zeros for an image the classifier empties
  probabilities: (name) => Array.from(shownProbabilities(byName(name))),
  mask: (name) => Array.from(maskAt(shownProbabilities(byName(name)), threshold).mask),
  rle: (name) => rleRows([byName(name)]),
}

setState('loading', 'Looking for a run…')
void loadFromUrl(params.get('run') ?? 'run/run.json', !params.has('run'))
