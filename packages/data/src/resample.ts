import { checkOption } from './errors'

/** How images are resampled: bilinear (default), bicubic (Keys, a = −0.5) or area (box average when shrinking). */
export type Interpolation = 'bilinear' | 'bicubic' | 'area'

/** Per-output-position taps of a separable resampler: `taps` source indices and weights each. */
interface Axis {
  taps: number
  index: Int32Array
  weight: Float64Array
}

const cache = new Map<string, Axis>()

function clampIndex(i: number, n: number): number {
  return i < 0 ? 0 : i >= n ? n - 1 : i
}

function cubic(x: number): number {
  // Keys' cubic convolution with a = -0.5 (Pillow, TensorFlow's half-pixel bicubic).
  const a = -0.5
  const t = Math.abs(x)
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
  return 0
}

function axis(from: number, to: number, method: Interpolation | 'nearest'): Axis {
  const key = `${method}:${from}>${to}`
  const hit = cache.get(key)
  if (hit) return hit
  const scale = from / to
  let a: Axis
  if (method === 'nearest') {
    a = { taps: 1, index: new Int32Array(to), weight: new Float64Array(to).fill(1) }
    for (let o = 0; o < to; o++) a.index[o] = clampIndex(Math.floor((o + 0.5) * scale), from)
  } else if (method === 'bilinear' || (method === 'area' && scale <= 1)) {
    // Half-pixel centres (OpenCV, tf halfPixelCenters); positions outside the image clamp to the edge.
    a = { taps: 2, index: new Int32Array(2 * to), weight: new Float64Array(2 * to) }
    for (let o = 0; o < to; o++) {
      const src = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), from - 1)
      const i0 = Math.floor(src)
      const w = src - i0
      a.index[2 * o] = i0
      a.index[2 * o + 1] = Math.min(i0 + 1, from - 1)
      a.weight[2 * o] = 1 - w
      a.weight[2 * o + 1] = w
    }
  } else if (method === 'bicubic') {
    a = { taps: 4, index: new Int32Array(4 * to), weight: new Float64Array(4 * to) }
    for (let o = 0; o < to; o++) {
      const src = (o + 0.5) * scale - 0.5
      const i0 = Math.floor(src)
      const f = src - i0
      for (let t = 0; t < 4; t++) {
        a.index[4 * o + t] = clampIndex(i0 - 1 + t, from)
        a.weight[4 * o + t] = cubic(f - (t - 1))
      }
    }
  } else {
    // Area when shrinking: each output pixel averages the source interval it covers, partial pixels weighted by overlap.
    const taps = Math.ceil(scale) + 1
    a = { taps, index: new Int32Array(taps * to), weight: new Float64Array(taps * to) }
    for (let o = 0; o < to; o++) {
      const lo = o * scale
      const hi = (o + 1) * scale
      const first = Math.floor(lo)
      for (let t = 0; t < taps; t++) {
        const i = first + t
        const overlap = Math.max(0, Math.min(hi, i + 1) - Math.max(lo, i))
        a.index[taps * o + t] = clampIndex(i, from)
        a.weight[taps * o + t] = overlap / scale
      }
    }
  }
  if (cache.size > 256) cache.clear()
  cache.set(key, a)
  return a
}

/**
 * Resamples an interleaved `height × width × channels` image to another size
 * (separable: rows, then columns). Pure TypeScript on typed arrays, the same
 * numbers in node and in the browser.
 *
 * @param pixels - source values, row-major, channels interleaved
 * @param from - source width, height and channels
 * @param to - target width and height
 * @param method - `'bilinear'`, `'bicubic'`, `'area'` or `'nearest'`
 * @returns `to.height × to.width × channels` values
 * @example
 * ```ts
 * resample(new Float32Array([0, 1]), { width: 2, height: 1, channels: 1 }, { width: 4, height: 1 }, 'bilinear') // [0, 0.25, 0.75, 1]
 * ```
 */
export function resample(
  pixels: ArrayLike<number>,
  from: { width: number; height: number; channels: number },
  to: { width: number; height: number },
  method: Interpolation | 'nearest' = 'bilinear',
): Float32Array {
  const { width: w, height: h, channels: c } = from
  checkOption(
    method === 'bilinear' || method === 'bicubic' || method === 'area' || method === 'nearest',
    `interpolation must be 'bilinear', 'bicubic' or 'area' (masks: 'nearest'), got ${String(method)}`,
  )
  checkOption(pixels.length === w * h * c, `expected ${w}×${h}×${c} = ${w * h * c} values, got ${pixels.length}`)
  checkOption(Number.isInteger(to.width) && to.width > 0 && Number.isInteger(to.height) && to.height > 0, `target size must be positive integers, got ${to.width}×${to.height}`)
  // One element type in the hot loops keeps them monomorphic (masks arrive as Uint8Array).
  const src = pixels instanceof Float32Array ? pixels : Float32Array.from(pixels)
  const W = to.width
  const H = to.height
  if (w === W && h === H) return src === pixels ? src.slice() : src
  const ax = axis(w, W, method)
  const ay = axis(h, H, method)
  // Rows first: h × W × c.
  const tmp = new Float32Array(h * W * c)
  const tx = ax.taps
  for (let y = 0; y < h; y++) {
    const row = y * w * c
    const orow = y * W * c
    for (let x = 0; x < W; x++) {
      const o = orow + x * c
      for (let t = 0; t < tx; t++) {
        const wt = ax.weight[x * tx + t]!
        if (wt === 0) continue
        const s = row + ax.index[x * tx + t]! * c
        for (let k = 0; k < c; k++) tmp[o + k]! += wt * src[s + k]!
      }
    }
  }
  const out = new Float32Array(H * W * c)
  const ty = ay.taps
  const line = W * c
  for (let y = 0; y < H; y++) {
    const o = y * line
    for (let t = 0; t < ty; t++) {
      const wt = ay.weight[y * ty + t]!
      if (wt === 0) continue
      const s = ay.index[y * ty + t]! * line
      for (let i = 0; i < line; i++) out[o + i]! += wt * tmp[s + i]!
    }
  }
  return out
}
