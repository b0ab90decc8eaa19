/** One line of a plot. */
export interface PlotSeries {
  /** The values to draw. */
  y: ArrayLike<number>
  /** The x position of each value (default 0, 1, 2, …). */
  x?: ArrayLike<number>
  /** The name shown in the legend. */
  label?: string
  /** A CSS color (default: from a color-blind-safe palette). */
  color?: string
}

/** What `plot` accepts: one array, several series, or named arrays (`{ loss: [...], val_loss: [...] }`). */
export type PlotInput = ArrayLike<number> | PlotSeries[] | Record<string, ArrayLike<number>>

/** Layout of a plot. */
export interface PlotOptions {
  title?: string
  xLabel?: string
  yLabel?: string
  /** Width in pixels (default 480). */
  width?: number
  /** Height in pixels (default 300). */
  height?: number
  /** Fixed y range; by default it fits the data. */
  yMin?: number
  yMax?: number
  /** Draw a dot on each point (default: when a series has at most 40 points). */
  markers?: boolean
}

const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000']

/**
 * Normalizes the accepted plot inputs into a list of series.
 *
 * @param input - an array of numbers, an array of series, or named arrays
 * @returns the series
 * @example
 * ```ts
 * toSeries({ loss: [1, 0.5] }) // [{ label: 'loss', y: [1, 0.5] }]
 * ```
 */
export function toSeries(input: PlotInput): PlotSeries[] {
  if (isNumbers(input)) return [{ y: input }]
  if (Array.isArray(input)) return input as PlotSeries[]
  return Object.entries(input as Record<string, ArrayLike<number>>).map(([label, y]) => ({ label, y }))
}

function isNumbers(input: PlotInput): input is ArrayLike<number> {
  if (ArrayBuffer.isView(input)) return true
  return Array.isArray(input) && (input.length === 0 || typeof input[0] === 'number')
}

/**
 * Draws a line plot as a standalone SVG document (axes, ticks, labels, legend).
 *
 * @param input - the values to plot
 * @param options - title, axis labels and size
 * @returns the SVG text
 * @example
 * ```ts
 * const svg = renderPlotSvg({ iou: [0.2, 0.5, 0.7] }, { title: 'IoU vs threshold' })
 * ```
 */
export function renderPlotSvg(input: PlotInput, options: PlotOptions = {}): string {
  const series = toSeries(input)
  const width = options.width ?? 480
  const height = options.height ?? 300
  const left = 60
  const right = 16
  const top = options.title ? 32 : 14
  const bottom = options.xLabel ? 48 : 32
  const plotW = width - left - right
  const plotH = height - top - bottom

  const xs: number[] = []
  const ys: number[] = []
  for (const s of series) {
    for (let i = 0; i < s.y.length; i++) {
      const y = s.y[i]!
      if (Number.isFinite(y)) ys.push(y)
      xs.push(s.x ? s.x[i]! : i)
    }
  }
  const [x0, x1] = extent(xs.filter(Number.isFinite), 0, 1)
  let [y0, y1] = extent(ys, 0, 1)
  // Widen the data's y range to whole ticks, so both ends of the axis are labelled.
  const yStep = tickStep(y0, y1, 5)
  if (yStep > 0) {
    y0 = Math.floor(y0 / yStep + 1e-9) * yStep
    y1 = Math.ceil(y1 / yStep - 1e-9) * yStep
  }
  if (options.yMin !== undefined) y0 = options.yMin
  if (options.yMax !== undefined) y1 = options.yMax
  const xTicks = ticks(x0, x1, 6)
  const yTicks = ticks(y0, y1, 5)
  const sx = (x: number): number => left + ((x - x0) / (x1 - x0 || 1)) * plotW
  const sy = (y: number): number => top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ]
  if (options.title) parts.push(`<text x="${left + plotW / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`)
  for (const t of yTicks) {
    const y = fmt(sy(t))
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`)
    parts.push(`<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(t)}</text>`)
  }
  for (const t of xTicks) {
    const x = fmt(sx(t))
    parts.push(`<line x1="${x}" x2="${x}" y1="${top + plotH}" y2="${top + plotH + 4}" stroke="#333"/>`)
    parts.push(`<text x="${x}" y="${top + plotH + 16}" text-anchor="middle">${label(t)}</text>`)
  }
  parts.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`)
  if (options.xLabel) parts.push(`<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`)
  if (options.yLabel) parts.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`)

  parts.push(`<g clip-path="none">`)
  series.forEach((s, index) => {
    const color = s.color ?? PALETTE[index % PALETTE.length]!
    let d = ''
    let pen = false
    const dots: string[] = []
    const markers = options.markers ?? s.y.length <= 40
    for (let i = 0; i < s.y.length; i++) {
      const yv = s.y[i]!
      const xv = s.x ? s.x[i]! : i
      if (!Number.isFinite(yv) || !Number.isFinite(xv)) {
        pen = false
        continue
      }
      const px = fmt(sx(xv))
      const py = fmt(sy(Math.min(Math.max(yv, y0), y1)))
      d += `${pen ? 'L' : 'M'}${px} ${py}`
      pen = true
      if (markers) dots.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${color}"/>`)
    }
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`, ...dots)
  })
  parts.push('</g>')

  const labelled = series.filter((s) => s.label)
  if (labelled.length > 0) {
    const boxW = 16 + Math.max(...labelled.map((s) => s.label!.length)) * 6.5 + 24
    const boxX = left + plotW - boxW - 6
    parts.push(`<rect x="${fmt(boxX)}" y="${top + 6}" width="${fmt(boxW)}" height="${labelled.length * 16 + 6}" fill="#ffffff" fill-opacity="0.85" stroke="#ccc"/>`)
    series.forEach((s, index) => {
      if (!s.label) return
      const row = labelled.indexOf(s)
      const y = top + 17 + row * 16
      const color = s.color ?? PALETTE[index % PALETTE.length]!
      parts.push(`<line x1="${fmt(boxX + 6)}" x2="${fmt(boxX + 24)}" y1="${y - 3}" y2="${y - 3}" stroke="${color}" stroke-width="2"/>`)
      parts.push(`<text x="${fmt(boxX + 30)}" y="${y}">${escapeXml(s.label)}</text>`)
    })
  }
  parts.push('</svg>')
  return parts.join('\n')
}

function extent(values: number[], fallbackLo: number, fallbackHi: number): [number, number] {
  if (values.length === 0) return [fallbackLo, fallbackHi]
  let lo = Infinity
  let hi = -Infinity
  for (const v of values) {
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  if (lo === hi) return [lo - 0.5, hi + 0.5]
  return [lo, hi]
}

/**
 * Round tick positions (1, 2 or 5 × 10^k apart) inside [lo, hi].
 *
 * @param lo - axis start
 * @param hi - axis end
 * @param count - about how many ticks
 * @returns the tick values
 * @example
 * ```ts
 * ticks(0, 1, 5) // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * ```
 */
export function ticks(lo: number, hi: number, count: number): number[] {
  const step = tickStep(lo, hi, count)
  if (step === 0) return [lo]
  const out: number[] = []
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)))
  return out
}

function tickStep(lo: number, hi: number, count: number): number {
  const span = hi - lo
  if (!(span > 0) || !Number.isFinite(span)) return 0
  const raw = span / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  return ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude
}

function label(v: number): string {
  if (v === 0) return '0'
  const abs = Math.abs(v)
  if (abs >= 1e5 || abs < 1e-3) return v.toExponential(1)
  return String(Number(v.toPrecision(4)))
}

function fmt(v: number): string {
  return String(Math.round(v * 10) / 10)
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
