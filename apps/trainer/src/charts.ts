/** One line of a {@link lineChart}. */
export interface Series {
  /** Legend label. */
  name: string
  /** CSS colour. */
  color: string
  /** Points (x, y); non-finite y values leave a gap. */
  points: readonly (readonly [number, number])[]
  /** Draw dashed. */
  dashed?: boolean
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  title: string
  xLabel: string
  yLabel: string
  series: readonly Series[]
  /** Vertical markers, e.g. the chosen threshold. */
  markers?: readonly { x: number; label: string; color: string }[]
  /** Fixed y range; computed from the data when left out. */
  yRange?: readonly [number, number]
  /** Where the legend goes (default top right). */
  legend?: 'top-right' | 'bottom-right'
  width?: number
  height?: number
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function niceTicks(min: number, max: number, count: number): number[] {
  const span = max - min || 1
  const raw = span / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw
  const out: number[] = []
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

/**
 * Draws a line chart as a standalone SVG string (inline in the HTML report,
 * rendered to PNG by sharp).
 *
 * @param o - title, axis labels, series and markers
 * @returns the SVG markup
 * @example
 * ```ts
 * const svg = lineChart({ title: 'loss', xLabel: 'epoch', yLabel: 'loss', series: [{ name: 'train', color: '#1f77b4', points: [[1, 0.5], [2, 0.3]] }] })
 * ```
 */
export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 560
  const H = o.height ?? 320
  const m = { left: 58, right: 16, top: 34, bottom: 46 }
  const pw = W - m.left - m.right
  const ph = H - m.top - m.bottom
  const all = o.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]))
  const xs = all.map((p) => p[0]).concat((o.markers ?? []).map((k) => k.x))
  let xMin = xs.length ? Math.min(...xs) : 0
  let xMax = xs.length ? Math.max(...xs) : 1
  if (xMin === xMax) {
    xMin -= 0.5
    xMax += 0.5
  }
  let [yMin, yMax] = o.yRange ?? [all.length ? Math.min(...all.map((p) => p[1])) : 0, all.length ? Math.max(...all.map((p) => p[1])) : 1]
  if (!o.yRange) {
    const pad = (yMax - yMin) * 0.08 || Math.abs(yMax) * 0.1 || 0.1
    yMin -= pad
    yMax += pad
  }
  const sx = (x: number): number => m.left + ((x - xMin) / (xMax - xMin)) * pw
  const sy = (y: number): number => m.top + ph - ((y - yMin) / (yMax - yMin)) * ph
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`)
  for (const t of niceTicks(yMin, yMax, 5)) {
    const y = sy(t).toFixed(1)
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`)
    parts.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${t}</text>`)
  }
  for (const t of niceTicks(xMin, xMax, 6)) {
    const x = sx(t).toFixed(1)
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="#444"/>`)
    parts.push(`<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle" fill="#444">${t}</text>`)
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`)
  parts.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`)
  for (const mk of o.markers ?? []) {
    const x = sx(mk.x).toFixed(1)
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="${mk.color}" stroke-width="1.5" stroke-dasharray="5 3"/>`)
    // a marker in the right half is labelled on its left, so the label stays inside the picture
    const left = Number(x) > m.left + pw / 2
    parts.push(`<text x="${Number(x) + (left ? -4 : 4)}" y="${m.top + 14}"${left ? ' text-anchor="end"' : ''} fill="${mk.color}">${esc(mk.label)}</text>`)
  }
  o.series.forEach((s) => {
    const segs: string[] = []
    let cur: string[] = []
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) {
        if (cur.length) segs.push(cur.join(' '))
        cur = []
        continue
      }
      cur.push(`${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
    }
    if (cur.length) segs.push(cur.join(' '))
    for (const seg of segs) {
      parts.push(`<polyline points="${seg}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`)
      if (s.points.length <= 40) for (const pt of seg.split(' ')) {
        const [cx, cy] = pt.split(',')
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${s.color}"/>`)
      }
    }
  })
  if (o.series.length > 0) {
    // a backing box keeps the legend readable where it sits over a line
    const boxH = o.series.length * 16 + 8
    const boxY = o.legend === 'bottom-right' ? m.top + ph - 10 - o.series.length * 16 - 4 : m.top + 4
    parts.push(`<rect x="${m.left + pw - 156}" y="${boxY}" width="150" height="${boxH}" fill="#ffffff" fill-opacity="0.85" stroke="#dddddd"/>`)
  }
  o.series.forEach((s, i) => {
    const ly = o.legend === 'bottom-right' ? m.top + ph - 10 - (o.series.length - i) * 16 : m.top + 8 + i * 16
    const lx = m.left + pw - 150
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly + 8}" y2="${ly + 8}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`)
    parts.push(`<text x="${lx + 24}" y="${ly + 8}" dominant-baseline="middle">${esc(s.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}
