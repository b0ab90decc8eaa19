import { join } from 'node:path'
import sharp from 'sharp'
import { ensureFolder, writeFileAtomic } from '@unet/files'
import { loadModel } from '@unet/runtime'
import { describeStop, findCheckpoint, MONITORS, readState, validate, type EpochLogs, type ValidationResult } from '@unet/train'
import type { TrainConfig } from './config'
import { TrainerError } from './errors'
import { learningStripPicture, STRIP_IMAGES } from './progress-strip'
import { validationSource, type RunData } from './data'
import { lineChart } from './charts'
import { outputsLogits } from './model'
import type { TrainSummary } from './train'
import type * as tf from '@tensorflow/tfjs-core'

/** Inputs of {@link writeReport}. */
export interface ReportInput {
  runDir: string
  config: TrainConfig
  data: RunData
  history: EpochLogs[]
  summary: Pick<TrainSummary, 'monitor' | 'best' | 'stopReason' | 'backend'>
  resolveLoss: () => (a: tf.Tensor, b: tf.Tensor) => tf.Tensor
}

/** One validation image as shown in the report. */
export interface ReportTile {
  id: string
  image: Float32Array
  truth: Uint8Array
  probabilities: Float32Array
  height: number
  width: number
  threshold: number
  /** Channels of `image` (1 grey, 3 RGB); default 1. */
  channels?: number
}

const SCALE = 2
/** Tiles wider or taller than this are shown shrunk (a Carvana photo is 1918 pixels wide). */
const MAX_TILE = 160

/**
 * A tile shrunk (nearest pixel) to fit {@link MAX_TILE}, so full-size photos make a readable strip.
 *
 * @param t - the tile at the image's own size
 * @returns the tile, shrunk when it is large
 * @example
 * ```ts
 * const small = fitTile(tile)
 * ```
 */
export function fitTile(t: ReportTile, size?: { width: number; height: number }): ReportTile {
  const f0 = Math.max(t.width, t.height) / MAX_TILE
  const width = size?.width ?? (f0 <= 1 ? t.width : Math.max(1, Math.round(t.width / f0)))
  const height = size?.height ?? (f0 <= 1 ? t.height : Math.max(1, Math.round(t.height / f0)))
  if (width === t.width && height === t.height) return t
  const fx = t.width / width
  const fy = t.height / height
  const c = t.channels ?? 1
  const image = new Float32Array(width * height * c)
  const truth = new Uint8Array(width * height)
  const probabilities = new Float32Array(width * height)
  for (let y = 0; y < height; y++) {
    const sy = Math.min(t.height - 1, Math.floor((y + 0.5) * fy))
    for (let x = 0; x < width; x++) {
      const sx = Math.min(t.width - 1, Math.floor((x + 0.5) * fx))
      const from = sy * t.width + sx
      const to = y * width + x
      for (let k = 0; k < c; k++) image[to * c + k] = t.image[from * c + k] as number
      truth[to] = t.truth[from] as number
      probabilities[to] = t.probabilities[from] as number
    }
  }
  return { ...t, image, truth, probabilities, width, height }
}

/**
 * What the foreground is called in a dataset's report: salt on TGS data (and the synthetic TGS-like set), the car
 * on Carvana, and plainly "foreground" on folder pairs, whose objects the toolkit cannot know.
 *
 * @param layout - the layout the data was read as
 * @returns the word the report's colour key uses
 * @example
 * ```ts
 * foregroundName('carvana') // 'car'
 * ```
 */
export function foregroundName(layout: RunData['layout']): string {
  return layout === 'tgs' || layout === 'synthetic' ? 'salt' : layout === 'carvana' ? 'car' : 'foreground'
}

/**
 * Renders one validation image as four tiles side by side: the image, the true
 * mask, the predicted mask, and an overlay (green: missed foreground, red: false
 * foreground, yellow: both agree).
 *
 * @param t - image, truth and probabilities at the original size
 * @returns raw RGBA pixels, `height × 4·width`
 * @example
 * ```ts
 * const { data, width, height } = renderStrip(tile)
 * ```
 */
export function renderStrip(t: ReportTile): { data: Uint8Array; width: number; height: number } {
  const gap = 3
  const W = t.width * 4 + gap * 3
  const H = t.height
  // mid-grey separators, so white masks stand out from the page
  const out = new Uint8Array(W * H * 4).fill(160)
  for (let k = 3; k < out.length; k += 4) out[k] = 255
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < t.width; x++) {
      const p = y * t.width + x
      const c = t.channels ?? 1
      const px = (k: number): number => Math.round(Math.min(1, Math.max(0, t.image[p * c + Math.min(k, c - 1)] as number)) * 255)
      const [r0, g0, b0] = [px(0), px(1), px(2)]
      const g = Math.round((r0 + g0 + b0) / 3)
      const truth = (t.truth[p] as number) > 0
      const pred = (t.probabilities[p] as number) > t.threshold
      const put = (tile: number, r: number, gg: number, b: number): void => {
        const o = (y * W + tile * (t.width + gap) + x) * 4
        out[o] = r
        out[o + 1] = gg
        out[o + 2] = b
        out[o + 3] = 255
      }
      put(0, r0, g0, b0)
      put(1, truth ? 255 : 0, truth ? 255 : 0, truth ? 255 : 0)
      put(2, pred ? 255 : 0, pred ? 255 : 0, pred ? 255 : 0)
      const d = Math.round(g * 0.6)
      if (truth && pred) put(3, Math.min(255, d + 140), Math.min(255, d + 140), d)
      else if (truth) put(3, d, Math.min(255, d + 140), d)
      else if (pred) put(3, Math.min(255, d + 160), d, d)
      else put(3, g, g, g)
    }
  }
  return { data: out, width: W, height: H }
}

async function rawToPng(r: { data: Uint8Array; width: number; height: number }, scale = SCALE): Promise<Buffer> {
  return sharp(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), { raw: { width: r.width, height: r.height, channels: 4 } })
    .resize(r.width * scale, r.height * scale, { kernel: 'nearest' })
    .png()
    .toBuffer()
}

/**
 * The overlay tile's colours over a mid-grey image, for the legend's swatches; the words say what each means.
 *
 * @param foreground - what the foreground is called (see {@link foregroundName})
 * @returns the key's entries
 * @example
 * ```ts
 * overlayKey('car')[1].label // 'green: car missed (truth only)'
 * ```
 */
export function overlayKey(foreground: string): { color: string; label: string }[] {
  return [
    { color: 'rgb(217,217,77)', label: `yellow: ${foreground}, found (truth and prediction)` },
    { color: 'rgb(77,217,77)', label: `green: ${foreground} missed (truth only)` },
    { color: 'rgb(237,77,77)', label: `red: false ${foreground} (prediction only)` },
  ]
}

/** Column titles of a strip, in {@link renderStrip}'s order. */
export const STRIP_COLUMNS: readonly string[] = ['image', 'true mask', 'predicted mask', 'overlay']

/**
 * The validation grid's frame as SVG: column titles above every strip and a
 * colour key below, with room left in between for the grid picture itself, so
 * the PNG explains itself outside the HTML report too.
 *
 * @param layout - scaled sizes: the grid picture, the tile width and the gaps, the strips per row, the threshold,
 *   and what the foreground is called (default `foreground`)
 * @returns the SVG and where the grid goes (`top`)
 * @example
 * ```ts
 * const { svg, top, height } = gridFrameSvg({ width: 1668, gridHeight: 1292, tileWidth: 202, tileGap: 6, stripGap: 16, columns: 2, threshold: 0.5, foreground: 'salt' })
 * ```
 */
export function gridFrameSvg(layout: {
  width: number
  gridHeight: number
  tileWidth: number
  tileGap: number
  stripGap: number
  columns: number
  threshold: number
  foreground?: string
}): { svg: string; top: number; height: number } {
  const { width, gridHeight, tileWidth, tileGap, stripGap, columns } = layout
  const top = 26
  const lineH = 22
  const items = [...overlayKey(layout.foreground ?? 'foreground').map((k) => ({ ...k, w: 26 + k.label.length * 7.2 })), { color: '', label: `threshold ${layout.threshold.toFixed(2)}`, w: 120 }]
  // lay the key out in as many lines as the width needs
  const placed: { x: number; line: number; color: string; label: string }[] = []
  let x = 8
  let line = 0
  for (const it of items) {
    if (x > 8 && x + it.w > width) {
      line += 1
      x = 8
    }
    placed.push({ x, line, color: it.color, label: it.label })
    x += it.w + 18
  }
  const height = top + gridHeight + 8 + (line + 1) * lineH
  const stripWidth = 4 * tileWidth + 3 * tileGap
  const text: string[] = []
  for (let c = 0; c < columns; c++) {
    STRIP_COLUMNS.forEach((name, k) => {
      const cx = c * (stripWidth + stripGap) + k * (tileWidth + tileGap) + tileWidth / 2
      text.push(`<text x="${cx}" y="${top - 8}" text-anchor="middle">${name}</text>`)
    })
  }
  for (const p of placed) {
    const y = top + gridHeight + 8 + p.line * lineH
    if (p.color) {
      text.push(`<rect x="${p.x}" y="${y + 3}" width="14" height="14" fill="${p.color}" stroke="#555" stroke-width="0.5"/>`)
      text.push(`<text x="${p.x + 20}" y="${y + 15}">${p.label}</text>`)
    } else {
      text.push(`<text x="${p.x}" y="${y + 15}" fill="#555">${p.label}</text>`)
    }
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13" fill="#222">` +
    `<rect width="100%" height="100%" fill="#fff"/>${text.join('')}</svg>`
  return { svg, top, height }
}

/**
 * Picks up to `count` validation images spread over coverage classes (empty,
 * small and large masks all show up), in a fixed order.
 *
 * @param coverageClasses - class of each validation image
 * @param count - how many
 * @returns indices
 * @example
 * ```ts
 * pickShowcase([0, 0, 3, 10], 2)
 * ```
 */
export function pickShowcase(coverageClasses: readonly number[], count: number): number[] {
  const byClass = new Map<number, number[]>()
  coverageClasses.forEach((c, i) => byClass.set(c, [...(byClass.get(c) ?? []), i]))
  const classes = [...byClass.keys()].sort((a, b) => a - b)
  const picked: number[] = []
  for (let round = 0; picked.length < Math.min(count, coverageClasses.length); round++) {
    for (const c of classes) {
      const list = byClass.get(c) as number[]
      if (round < list.length && picked.length < count) picked.push(list[round] as number)
    }
  }
  return picked.sort((a, b) => (coverageClasses[a] as number) - (coverageClasses[b] as number) || a - b)
}

/**
 * Writes `RUN_DIR/report/`: `index.html` (self-contained: inline SVG charts and
 * images as data URIs) and the same pictures as PNG files — `loss.png`,
 * `metrics.png`, `threshold.png`, `validation-grid.png`. The predictions come
 * from the best checkpoint. Each file is replaced atomically (@unet/files), the
 * pictures first and index.html last, so the folder is never missing or half
 * written: a failure leaves the previous report's files in place.
 *
 * @param input - run folder, config, data, history and summary
 * @returns the path of index.html
 * @example
 * ```ts
 * await writeReport({ runDir, config, data, history, summary, resolveLoss: () => loss })
 * ```
 */
export async function writeReport(input: ReportInput): Promise<string> {
  const { runDir, config, data, history, summary } = input
  const checkpoints = join(runDir, 'checkpoints')
  const bestFolder = findCheckpoint(checkpoints, 'best')
  if (!bestFolder) throw new TrainerError('NO_CHECKPOINT', `${runDir} has no best checkpoint yet (no finished epoch); train longer with \`unet train --out ${runDir} --resume\``)
  const state = await readState(checkpoints, 'best')
  const model = await loadModel(bestFolder)
  const v = data.validation
  const indices = pickShowcase(v.coverageClasses, config.reportImages)
  // the best checkpoint's threshold (chosen by the monitor during training); every image is scored there
  const threshold = state.best?.threshold ?? 0.5
  let scores: ValidationResult
  try {
    scores = await validate(model, validationSource(data, config), {
      batchSize: config.batchSize,
      logits: outputsLogits(config),
      loss: input.resolveLoss(),
      keep: indices,
      scoreImagesAt: threshold,
    })
  } finally {
    model.dispose()
  }
  const sweep = scores.sweep
  const near = sweep.thresholds.reduce((a, t, j) => (Math.abs(t - threshold) < Math.abs((sweep.thresholds[a] as number) - threshold) ? j : a), 0)
  const chosen = { score: sweep.tgs[near] ?? NaN, iou: sweep.iou[near] ?? NaN, dice: sweep.dice[near] ?? NaN }
  const emptyBaseline = scores.baselines.empty.tgs
  const foreground = foregroundName(data.layout)
  const epochs = history.map((h) => h.epoch + 1)
  const lossSvg = lineChart({
    title: 'Loss',
    xLabel: 'epoch',
    yLabel: `loss (${config.loss})`,
    series: [
      { name: 'train', color: '#1f77b4', points: history.map((h, i) => [epochs[i] as number, h.loss]) },
      { name: 'validation', color: '#ff7f0e', points: history.map((h, i) => [epochs[i] as number, h.valLoss]) },
    ],
  })
  const monitor = summary.monitor
  const field = MONITORS[monitor].field
  const metricsSvg = lineChart({
    title: `Validation metrics (monitor: ${monitor})`,
    xLabel: 'epoch',
    yLabel: 'score',
    yRange: [0, 1],
    legend: 'bottom-right',
    series: [
      { name: 'TGS score (best thr)', color: '#2ca02c', points: history.map((h, i) => [epochs[i] as number, h.valTgs]) },
      { name: 'TGS score @0.5', color: '#98df8a', points: history.map((h, i) => [epochs[i] as number, h.valTgsAtHalf]) },
      { name: 'mean IoU', color: '#9467bd', points: history.map((h, i) => [epochs[i] as number, h.valIou]) },
      { name: 'Dice', color: '#1f77b4', points: history.map((h, i) => [epochs[i] as number, h.valDice]) },
      { name: 'empty-mask baseline (TGS)', color: '#7f7f7f', dashed: true, points: history.map((_h, i) => [epochs[i] as number, emptyBaseline]) },
    ],
    markers: summary.best ? [{ x: summary.best.epoch + 1, label: 'best', color: '#d62728' }] : [],
  })
  const monitorSvg = lineChart({
    title: `Monitored: ${monitor} (${MONITORS[monitor].mode === 'max' ? 'higher' : 'lower'} is better)`,
    xLabel: 'epoch',
    yLabel: monitor,
    legend: 'bottom-right',
    series: [{ name: monitor, color: '#d62728', points: history.map((h, i) => [epochs[i] as number, h[field]]) }],
    markers: summary.best ? [{ x: summary.best.epoch + 1, label: 'best', color: '#d62728' }] : [],
  })
  const thresholdSvg = lineChart({
    title: 'Score vs threshold (best checkpoint, validation)',
    xLabel: 'probability threshold',
    yLabel: 'score',
    yRange: [0, 1],
    legend: 'bottom-right',
    series: [
      { name: 'mean IoU', color: '#9467bd', points: sweep.thresholds.map((t, j) => [t, sweep.iou[j] as number]) },
      { name: 'TGS score', color: '#2ca02c', points: sweep.thresholds.map((t, j) => [t, sweep.tgs[j] as number]) },
    ],
    markers: [{ x: threshold, label: `chosen ${threshold.toFixed(2)}`, color: '#d62728' }],
  })

  // every tile at the size of the first one shown (shrunk to fit), so the strips line up whatever the image sizes
  const originals = await v.originals(indices)
  const first = originals[0] ?? null
  const f0 = first ? Math.max(1, Math.max(first.width, first.height) / MAX_TILE) : 1
  const tileSize = first ? { width: Math.max(1, Math.round(first.width / f0)), height: Math.max(1, Math.round(first.height / f0)) } : undefined
  const strips = await Promise.all(
    indices.map(async (i, k) => {
      const o = originals[k] as (typeof originals)[number]
      const tile = fitTile({
        id: o.id,
        image: o.image,
        truth: o.mask,
        probabilities: scores.kept.get(i) as Float32Array,
        width: o.width,
        height: o.height,
        threshold,
        channels: o.channels,
      }, tileSize)
      const strip = renderStrip(tile)
      return { i, tile, strip, png: await rawToPng(strip) }
    }),
  )

  const dest = join(runDir, 'report')
  await ensureFolder(dest)
  for (const [name, svg] of [['loss', lossSvg], ['metrics', metricsSvg], ['monitor', monitorSvg], ['threshold', thresholdSvg]] as const) {
    await writeFileAtomic(join(dest, `${name}.png`), await sharp(Buffer.from(svg)).png().toBuffer())
  }
  if (strips.length > 0) {
    // two strips per row keeps the picture roughly square for the default dozen images
    const first = strips[0]!.strip
    const columns = strips.length > 1 ? 2 : 1
    const gap = 8
    const cellW = first.width + gap
    const cellH = first.height + gap
    const rowsN = Math.ceil(strips.length / columns)
    const gridW = cellW * columns - gap
    const gridH = cellH * rowsN - gap
    const grid = new Uint8Array(gridW * gridH * 4).fill(255)
    strips.forEach((s, k) => {
      const ox = (k % columns) * cellW
      const oy = Math.floor(k / columns) * cellH
      for (let y = 0; y < s.strip.height; y++) {
        grid.set(s.strip.data.subarray(y * s.strip.width * 4, (y + 1) * s.strip.width * 4), ((oy + y) * gridW + ox) * 4)
      }
    })
    const tileWidth = strips[0]!.tile.width
    const frame = gridFrameSvg({
      width: gridW * SCALE,
      gridHeight: gridH * SCALE,
      tileWidth: tileWidth * SCALE,
      tileGap: ((first.width - 4 * tileWidth) / 3) * SCALE,
      stripGap: gap * SCALE,
      columns,
      threshold,
      foreground,
    })
    const picture = await rawToPng({ data: grid, width: gridW, height: gridH })
    const framed = await sharp(Buffer.from(frame.svg)).composite([{ input: picture, top: frame.top, left: 0 }]).png().toBuffer()
    await writeFileAtomic(join(dest, 'validation-grid.png'), framed)
  }
  const learning = await learningStripPicture(runDir, data, pickShowcase(v.coverageClasses, STRIP_IMAGES))
  if (learning) await writeFileAtomic(join(dest, 'learning.png'), learning.png)
  const learningHtml = learning
    ? `<h2>What the model predicts as it learns</h2>\n<p>The same ${STRIP_IMAGES} validation images after epochs ${learning.epochs.join(', ')}: probabilities, white = foreground.</p>\n<img alt="predictions per epoch" src="data:image/png;base64,${learning.png.toString('base64')}">`
    : ''
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  const best = summary.best
  const rows = strips
    .map(({ i, tile, png }) => {
      const score = scores.images[i] as { tgs: number; dice: number }
      return `<tr><td><img alt="${esc(tile.id)}" src="data:image/png;base64,${png.toString('base64')}"></td><td>${esc(tile.id)}<br>coverage class ${v.coverageClasses[i]}<br>TGS ${score.tgs.toFixed(2)}, Dice ${score.dice.toFixed(2)}</td></tr>`
    })
    .join('\n')
  const classRows = byCoverageClass(scores.images, v.coverageClasses)
    .map((c) => `<tr><td>${c.coverageClass}</td><td>${c.count}</td><td>${c.tgs.toFixed(4)}</td><td>${c.iou.toFixed(4)}</td><td>${c.dice.toFixed(4)}</td></tr>`)
    .join('\n')
  const historyRows = history
    .map((h) => `<tr><td>${h.epoch + 1}</td><td>${h.loss.toFixed(4)}</td><td>${h.valLoss.toFixed(4)}</td><td>${h.valIou.toFixed(4)}</td><td>${h.valDice.toFixed(4)}</td><td>${h.valPixelAccuracy.toFixed(4)}</td><td>${h.valTgsAtHalf.toFixed(4)}</td><td>${h.valTgs.toFixed(4)}</td><td>${h.threshold.toFixed(2)}</td><td>${h.lr.toPrecision(2)}</td><td>${h.imagesPerSecond.toFixed(1)}</td></tr>`)
    .join('\n')
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>unet run report — ${esc(runDir)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
.charts{display:flex;flex-wrap:wrap;gap:12px}.grid td{text-align:left;vertical-align:middle}.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}</style></head>
<body>
<h1>U-Net training report</h1>
<p>Run <code>${esc(runDir)}</code> on ${esc(data.source)} — ${data.train.count} train / ${data.validation.count} validation images, model ${config.model} (depth ${config.depth}, filters ${config.filters}), image size ${config.imageSize} (${config.resize}), loss ${esc(config.loss)}, backend ${esc(summary.backend)}.</p>
<p><b>Best ${monitor} ${best ? best.value.toFixed(4) : 'n/a'}</b>${best ? ` at epoch ${best.epoch + 1}, threshold ${threshold.toFixed(2)}` : ''}; TGS empty-mask baseline ${emptyBaseline.toFixed(4)}; TGS score ${chosen.score.toFixed(4)}, mean IoU ${chosen.iou.toFixed(4)}, Dice ${chosen.dice.toFixed(4)} at the chosen threshold. Stopped: ${esc(describeStop(summary.stopReason))}.</p>
${skippedHtml(input.data.skipped ?? [], esc)}
<div class="charts">
${monitorSvg}
${lossSvg}
${metricsSvg}
${thresholdSvg}
</div>
${learningHtml}
<h2>Per epoch</h2>
<table><tr><th>epoch</th><th>loss</th><th>val loss</th><th>val IoU</th><th>Dice</th><th>pixel acc.</th><th>TGS @0.5</th><th>TGS</th><th>threshold</th><th>lr</th><th>img/s</th></tr>
${historyRows}</table>
<h2>By coverage class (best checkpoint, threshold ${threshold.toFixed(2)})</h2>
<table><tr><th>class</th><th>images</th><th>TGS score</th><th>mean IoU</th><th>Dice</th></tr>
${classRows}</table>
<h2>Validation images</h2>
<p class="key">image · true mask · predicted mask · overlay:<span style="background:#ffff60"></span>${foreground} found<span style="background:#40c040"></span>${foreground} missed<span style="background:#e04040"></span>false ${foreground}</p>
<table class="grid">
${rows}
</table>
</body></html>
`
  await writeFileAtomic(join(dest, 'index.html'), html)
  return join(dest, 'index.html')
}

/**
 * Per-image scores grouped by coverage class (0 empty … 10 nearly full), the classes in order.
 *
 * @param images - each image's scores (validate's `images`)
 * @param coverageClasses - each image's class
 * @returns one row per class present: images, mean TGS score, IoU and Dice
 * @example
 * ```ts
 * byCoverageClass(v.images, data.validation.coverageClasses)
 * ```
 */
export function byCoverageClass(images: readonly { tgs: number; iou: number; dice: number }[], coverageClasses: readonly number[]): { coverageClass: number; count: number; tgs: number; iou: number; dice: number }[] {
  const classes = new Map<number, { count: number; tgs: number; iou: number; dice: number }>()
  images.forEach((s, k) => {
    const c = coverageClasses[k] as number
    const e = classes.get(c) ?? { count: 0, tgs: 0, iou: 0, dice: 0 }
    classes.set(c, { count: e.count + 1, tgs: e.tgs + s.tgs, iou: e.iou + s.iou, dice: e.dice + s.dice })
  })
  return [...classes.entries()].sort((a, b) => a[0] - b[0]).map(([coverageClass, e]) => ({ coverageClass, count: e.count, tgs: e.tgs / e.count, iou: e.iou / e.count, dice: e.dice / e.count }))
}

function skippedHtml(skipped: readonly { id?: string; file?: string; message: string }[], esc: (s: string) => string): string {
  if (skipped.length === 0) return ''
  const rows = skipped.map((p) => `<li><code>${esc(p.file ?? p.id ?? '?')}</code>: ${esc(p.message)}</li>`).join('\n')
  return `<h2>Skipped files (${skipped.length}, --skip-bad)</h2>\n<p>These files of the dataset could not be used and were left out of training and validation:</p>\n<ul>${rows}</ul>`
}
