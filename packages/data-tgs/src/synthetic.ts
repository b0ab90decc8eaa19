import { type Random, coverageClass, createRng, deriveSeed, gaussian, maskCoverage, uniform } from '@unet/data'
import { checkOption } from './errors'
import type { TgsSample, TgsTestImage } from './types'

/** Options of {@link generateSyntheticTgs} and {@link writeSyntheticTgs}. */
export interface SyntheticTgsOptions {
  /** Train images with masks. Default 4000 (like Kaggle's). */
  trainCount?: number
  /** Test images without masks. Default 1000 (Kaggle has 18,000). */
  testCount?: number
  /** Everything is a pure function of the seed. Default 0. */
  seed?: number
  /** Share of train masks that are empty. Default 0.39 (as in Kaggle's train set). */
  emptyFraction?: number
  /** Image side in pixels. Default 101. */
  size?: number
  /** Channels of the image PNGs {@link writeSyntheticTgs} writes: 3 equal ones like Kaggle's (default) or 1. */
  imageChannels?: 1 | 3
}

/** The in-memory synthetic dataset: the same shape {@link readTgsDataset} returns. */
export interface SyntheticTgs {
  train: TgsSample[]
  test: TgsTestImage[]
  report: {
    source: string
    trainCount: number
    testCount: number
    emptyMasks: number
    maskSource: 'synthetic'
    imageFormats: Record<string, number>
    maskFormats: Record<string, number>
    skipped: never[]
    notes: string[]
  }
}

// Share of each coverage class 0…10 in Kaggle's train set, roughly: many empty,
// many small, many nearly full, a flat middle. Class 0 is set from emptyFraction.
const NON_EMPTY_CLASS_WEIGHTS = [0, 0.2, 0.075, 0.075, 0.075, 0.075, 0.075, 0.075, 0.075, 0.075, 0.2]

/** One generated image, with its mask (all zeros for test images) and depth. */
export interface SyntheticImage {
  image: Float32Array
  mask: Uint8Array
  depth: number
}

/**
 * Generates one TGS-like seismic image and its salt mask, a pure function of
 * `(seed, index)` and the options: layered reflectors (a reflectivity series
 * convolved with a Ricker wavelet) bent by dips and folds, amplitude and
 * frequency falling with depth, band-limited noise; salt bodies as smooth
 * irregular shapes with a weak, chaotic interior and a strong reflection at
 * their boundary. Image values are quantised to 8 bits, as in the PNG files.
 *
 * @param seed - dataset seed
 * @param index - which image of the stream (train and test use separate streams)
 * @param options - `size`, `emptyFraction`, `stream`
 * @returns `{ image, mask, depth }`
 * @example
 * ```ts
 * const { image, mask, depth } = generateSyntheticImage(7, 0)
 * ```
 */
export function generateSyntheticImage(
  seed: number,
  index: number,
  options: { size?: number; emptyFraction?: number; stream?: 'train' | 'test' } = {},
): SyntheticImage {
  const n = options.size ?? 101
  const emptyFraction = options.emptyFraction ?? 0.39
  const random = createRng(deriveSeed(seed, options.stream === 'test' ? 2 : 1, index))
  const N = n * n

  // Depth in feet, like depths.csv (51…959, mean about 500). Deeper images hold salt a bit more often.
  const depth = Math.round(Math.min(959, Math.max(51, 506 + 190 * gaussian(random))))
  const zNorm = (depth - 51) / 908
  const pEmpty = Math.min(0.95, Math.max(0, emptyFraction + 0.2 * (0.5 - zNorm)))
  const coverage = random() < pEmpty ? 0 : drawCoverage(random)
  const saltPixels = Math.min(N, Math.max(coverage > 0 ? 12 : 0, Math.round(coverage * N)))

  // --- salt body: a smooth field whose upper level set is the salt -------------------------
  const phi = new Float32Array(N)
  let level = Number.POSITIVE_INFINITY
  if (saltPixels > 0) {
    saltField(phi, n, random)
    level = levelForCount(phi, saltPixels)
  }
  const mask = new Uint8Array(N)
  for (let i = 0; i < N; i++) mask[i] = phi[i]! > level ? 1 : 0

  // --- sediments: a reflectivity series sampled along folded, dipping horizons -------------
  const wavelength = uniform(random, 5, 8) + 7 * zNorm
  const trace = reflectivityTrace(random, 512, wavelength)
  const dip = Math.tan(gaussian(random) * 0.25)
  const foldA = Math.min(10, Math.abs(gaussian(random)) * uniform(random, 2, 8))
  const foldL = uniform(random, 80, 240)
  const foldP = uniform(random, 0, 2 * Math.PI)
  const fold2A = random() < 0.3 ? Math.abs(gaussian(random)) * 1.5 : 0
  const fold2L = uniform(random, 20, 50)
  const fold2P = uniform(random, 0, 2 * Math.PI)
  const dragAmount = saltPixels > 0 ? uniform(random, 2, 10) * (random() < 0.5 ? 1 : -1) : 0
  const lateral = smoothNoise(random, n, 3)
  const warp = smoothNoise(random, n, 4)
  // Salt interiors: weak, chaotic, in short sub-horizontal streaks rather than grain.
  const chaos = bandLimitedNoise(random, n, 3, 1)
  const blotch = smoothNoise(random, n, 7)
  const noise = bandLimitedNoise(random, n, 1, 1)
  const shiftT = uniform(random, 0, 200)
  const baseGain = 1.15 - 0.55 * zNorm + 0.15 * gaussian(random)
  const decay = uniform(random, 0.1, 0.6) // amplitude loss from top to bottom of one image
  const noiseLevel = uniform(random, 0.1, 0.35)
  const interior = uniform(random, 0.15, 0.4)
  const edgeAmp = uniform(random, 1, 2.2) * (random() < 0.75 ? 1 : -1)
  const edgeWidth = uniform(random, 1.6, 2.8) + 1.2 * zNorm
  const contrast = uniform(random, 0.14, 0.26)
  const brightness = 0.5 + 0.04 * gaussian(random)
  const haveSalt = saltPixels > 0 && saltPixels < N

  // Horizon shift per column (folds) and per pixel (drag against salt, warp).
  const columnShift = new Float32Array(n)
  for (let x = 0; x < n; x++) {
    columnShift[x] =
      dip * (x - n / 2) +
      foldA * Math.sin((2 * Math.PI * x) / foldL + foldP) +
      fold2A * Math.sin((2 * Math.PI * x) / fold2L + fold2P)
  }
  const image = new Float32Array(N)
  for (let y = 0; y < n; y++) {
    const gain = baseGain * Math.exp(-decay * (y / n))
    for (let x = 0; x < n; x++) {
      const i = y * n + x
      let t = shiftT + y + columnShift[x]! + 4 * warp[i]!
      let v: number
      if (haveSalt) {
        const d = phi[i]! - level // > 0 inside salt, roughly in pixels
        // Sediments are dragged up (or down) against the salt flank, fading with distance.
        t += d > 0 ? dragAmount : dragAmount * Math.exp(d / 12)
        const sediment = sampleTrace(trace, t) * (1 + 0.35 * lateral[i]!)
        const inside = d > 8 ? 1 : d < -8 ? 0 : 1 / (1 + Math.exp(-d / 1.2))
        const e = d / edgeWidth
        const edge = e > 3 || e < -3 ? 0 : ricker(e)
        const salt = interior * (1.3 * chaos[i]! + 0.8 * blotch[i]!)
        v = (1 - inside) * sediment + inside * salt + edgeAmp * edge
      } else if (saltPixels === N) {
        v = interior * (1.3 * chaos[i]! + 0.8 * blotch[i]!)
      } else {
        v = sampleTrace(trace, t) * (1 + 0.35 * lateral[i]!)
      }
      v = v * gain + noiseLevel * noise[i]!
      const q = brightness + contrast * v
      image[i] = Math.round((q < 0 ? 0 : q > 1 ? 1 : q) * 255) / 255
    }
  }
  return { image, mask, depth }
}

function drawCoverage(random: Random): number {
  let u = random()
  let cls = 1
  for (let c = 1; c <= 10; c++) {
    u -= NON_EMPTY_CLASS_WEIGHTS[c]!
    if (u <= 0) {
      cls = c
      break
    }
  }
  if (cls === 1) return 0.1 * random() ** 2 // most small bodies are very small
  if (cls === 10) return random() < 0.45 ? 1 : 0.9 + 0.1 * random()
  return (cls - 1 + random()) / 10
}

/** The value above which exactly `count` entries of `phi` lie (phi is continuous, so ties are rare). */
function levelForCount(phi: Float32Array, count: number): number {
  if (count >= phi.length) return Number.NEGATIVE_INFINITY
  const values = Float32Array.from(phi)
  const k = phi.length - count
  const kth = quickSelect(values, k)
  // After selection everything before k is ≤ the k-th value: the largest of them is the (k-1)-th.
  let below = Number.NEGATIVE_INFINITY
  for (let i = 0; i < k; i++) if (values[i]! > below) below = values[i]!
  return (below + kth) / 2
}

/** Hoare's selection: reorders `a` so that a[k] is the k-th smallest, smaller values before it. */
function quickSelect(a: Float32Array, k: number): number {
  let lo = 0
  let hi = a.length - 1
  while (hi > lo) {
    const pivot = a[(lo + hi) >> 1]!
    let i = lo
    let j = hi
    while (i <= j) {
      while (a[i]! < pivot) i++
      while (a[j]! > pivot) j--
      if (i <= j) {
        const t = a[i]!
        a[i] = a[j]!
        a[j] = t
        i++
        j--
      }
    }
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else break
  }
  return a[k]!
}

/** Fills `phi` with a smooth field, larger inside salt: a flank/top surface, a blob, or two blobs. */
function saltField(phi: Float32Array, n: number, random: Random): void {
  // Plane waves, not grid value noise: grid noise flattens at its nodes and turns boundaries into staircases.
  const irregular = waveNoise(random, n, 4, 40, 120)
  const rough = waveNoise(random, n, 5, 12, 30)
  const wobble = uniform(random, 2, 7)
  const kind = random()
  if (kind < 0.5) {
    // A salt top, base or flank: distance from a wavy line, salt on one side.
    const angle = gaussian(random) * 0.7 + (random() < 0.8 ? 0 : Math.PI)
    const nx = Math.sin(angle)
    const ny = Math.cos(angle)
    const amps = [uniform(random, 2, 12), uniform(random, 0, 5), uniform(random, 0, 1.5)]
    const lens = [uniform(random, 60, 200), uniform(random, 25, 60), uniform(random, 12, 25)]
    const phases = [random() * 6.3, random() * 6.3, random() * 6.3]
    // The wavy line as a table over the along-line coordinate s ∈ [-n, n], one entry per pixel.
    const curve = new Float32Array(2 * n + 2)
    for (let j = 0; j < curve.length; j++) {
      let c = 0
      for (let k = 0; k < 3; k++) c += amps[k]! * Math.sin((2 * Math.PI * (j - n)) / lens[k]! + phases[k]!)
      curve[j] = c
    }
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const u = (x - n / 2) * nx + (y - n / 2) * ny
        const s = (x - n / 2) * ny - (y - n / 2) * nx + n
        const j = Math.floor(s)
        const c = curve[j]! + (curve[j + 1]! - curve[j]!) * (s - j)
        const i = y * n + x
        phi[i] = u - c + wobble * irregular[i]! + 1.2 * rough[i]!
      }
    }
    return
  }
  const blobs = kind < 0.85 ? 1 : 2
  phi.fill(Number.NEGATIVE_INFINITY)
  for (let b = 0; b < blobs; b++) {
    const cx = uniform(random, -0.2, 1.2) * n
    const cy = uniform(random, -0.1, 1.3) * n
    const stretch = Math.exp(gaussian(random) * 0.4)
    const rot = random() * Math.PI
    // Radius as 1 + Σ a_k cos(kθ + p_k), k = 2…5, written as Σ (c_k cos kθ - s_k sin kθ).
    const ck = new Float32Array(6)
    const sk = new Float32Array(6)
    for (let k = 2; k <= 5; k++) {
      const a = (0.25 / k) * Math.abs(gaussian(random))
      const p = random() * 2 * Math.PI
      ck[k] = a * Math.cos(p)
      sk[k] = a * Math.sin(p)
    }
    const cr = Math.cos(rot)
    const sr = Math.sin(rot)
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const dx = x - cx
        const dy = y - cy
        const u = (dx * cr + dy * sr) / stretch
        const v = (-dx * sr + dy * cr) * stretch
        const r = Math.sqrt(u * u + v * v) + 1e-6
        const c1 = u / r
        const s1 = v / r
        // cos/sin of kθ by the angle-addition recurrence: no trigonometric calls per pixel.
        let shape = 1
        let cPrev = c1
        let sPrev = s1
        for (let k = 2; k <= 5; k++) {
          const c = cPrev * c1 - sPrev * s1
          const s = sPrev * c1 + cPrev * s1
          shape += ck[k]! * c - sk[k]! * s
          cPrev = c
          sPrev = s
        }
        const i = y * n + x
        const value = -r / (shape > 0.3 ? shape : 0.3) + wobble * irregular[i]! + 1.2 * rough[i]!
        if (value > phi[i]!) phi[i] = value
      }
    }
  }
}

function ricker(t: number): number {
  const a = t * t
  return (1 - 2 * a) * Math.exp(-a)
}

/** A reflectivity series (blocky layers with random impedance steps) convolved with a Ricker wavelet. */
function reflectivityTrace(random: Random, length: number, wavelength: number): Float32Array {
  const reflectivity = new Float32Array(length)
  let t = 0
  while (t < length) {
    reflectivity[t] = gaussian(random) * (random() < 0.15 ? 2.2 : 1)
    t += 1 + Math.floor(random() * random() * 9)
  }
  const half = Math.ceil(wavelength * 1.2)
  const kernel = new Float32Array(2 * half + 1)
  for (let k = -half; k <= half; k++) kernel[k + half] = ricker((Math.PI * k) / wavelength)
  const out = new Float32Array(length)
  let sumSq = 0
  for (let i = 0; i < length; i++) {
    let s = 0
    for (let k = -half; k <= half; k++) {
      const j = i + k
      if (j >= 0 && j < length) s += reflectivity[j]! * kernel[k + half]!
    }
    out[i] = s
    sumSq += s * s
  }
  const rms = Math.sqrt(sumSq / length) || 1
  for (let i = 0; i < length; i++) out[i] = out[i]! / rms
  return out
}

function sampleTrace(trace: Float32Array, t: number): number {
  const n = trace.length
  let p = t % (n - 1)
  if (p < 0) p += n - 1
  const i = Math.floor(p)
  const f = p - i
  return trace[i]! * (1 - f) + trace[i + 1]! * f
}

const smoothAxisCache = new Map<string, { i0: Int32Array; f: Float32Array }>()

/** Grid cell and smoothstep weight of each pixel along one axis (cached per size). */
function smoothAxis(n: number, cells: number): { i0: Int32Array; f: Float32Array } {
  const key = `${n}/${cells}`
  let axis = smoothAxisCache.get(key)
  if (!axis) {
    axis = { i0: new Int32Array(n), f: new Float32Array(n) }
    for (let p = 0; p < n; p++) {
      const g = (p / (n - 1)) * cells
      const i0 = Math.min(Math.floor(g), cells - 1)
      const f = g - i0
      axis.i0[p] = i0
      axis.f[p] = f * f * (3 - 2 * f)
    }
    smoothAxisCache.set(key, axis)
  }
  return axis
}

/** Smooth value noise in about [-1, 1] on a `cells × cells` grid, smoothstep-interpolated to n × n. */
function smoothNoise(random: Random, n: number, cells: number): Float32Array {
  const g = cells + 1
  const grid = new Float32Array(g * g)
  for (let i = 0; i < grid.length; i++) grid[i] = random() * 2 - 1
  const { i0, f } = smoothAxis(n, cells)
  const out = new Float32Array(n * n)
  for (let y = 0; y < n; y++) {
    const row0 = i0[y]! * g
    const row1 = row0 + g
    const fy = f[y]!
    for (let x = 0; x < n; x++) {
      const x0 = i0[x]!
      const fx = f[x]!
      const a = grid[row0 + x0]!
      const b = grid[row0 + x0 + 1]!
      const c = grid[row1 + x0]!
      const d = grid[row1 + x0 + 1]!
      const top = a + (b - a) * fx
      out[y * n + x] = top + (c + (d - c) * fx - top) * fy
    }
  }
  return out
}

/**
 * A sum of `waves` plane waves with random directions, wavelengths in [minLen, maxLen] and phases, scaled
 * to about [-1, 1]. Each wave is sin(kx·x + ky·y + φ) = sin(kx·x + φ)·cos(ky·y) + cos(kx·x + φ)·sin(ky·y),
 * so only per-row and per-column sines are computed.
 */
function waveNoise(random: Random, n: number, waves: number, minLen: number, maxLen: number): Float32Array {
  const out = new Float32Array(n * n)
  const sx = new Float32Array(n)
  const cx = new Float32Array(n)
  const sy = new Float32Array(n)
  const cy = new Float32Array(n)
  const amp = 1 / Math.sqrt(waves / 2)
  for (let w = 0; w < waves; w++) {
    const theta = random() * Math.PI
    const k = (2 * Math.PI) / uniform(random, minLen, maxLen)
    const kx = k * Math.cos(theta)
    const ky = k * Math.sin(theta)
    const phase = random() * 2 * Math.PI
    const a = amp * uniform(random, 0.5, 1)
    for (let i = 0; i < n; i++) {
      sx[i] = Math.sin(kx * i + phase)
      cx[i] = Math.cos(kx * i + phase)
      sy[i] = Math.sin(ky * i)
      cy[i] = Math.cos(ky * i)
    }
    for (let y = 0; y < n; y++) {
      const c = a * cy[y]!
      const s = a * sy[y]!
      const row = y * n
      for (let x = 0; x < n; x++) out[row + x] = out[row + x]! + sx[x]! * c + cx[x]! * s
    }
  }
  return out
}

/** White noise smoothed by [1 2 1] passes (`xPasses` across, `yPasses` down), rescaled to unit RMS. */
function bandLimitedNoise(random: Random, n: number, xPasses: number, yPasses: number): Float32Array {
  const a = new Float32Array(n * n)
  // Uniform white noise: the smoothing passes make it near-Gaussian anyway, and it is much cheaper.
  for (let i = 0; i < a.length; i++) a[i] = random() - 0.5
  const b = new Float32Array(n * n)
  for (let p = 0; p < Math.max(xPasses, yPasses); p++) {
    if (p < xPasses) {
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          const i = y * n + x
          b[i] = 0.25 * a[x > 0 ? i - 1 : i]! + 0.5 * a[i]! + 0.25 * a[x < n - 1 ? i + 1 : i]!
        }
      }
    } else b.set(a)
    if (p < yPasses) {
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          const i = y * n + x
          a[i] = 0.25 * b[y > 0 ? i - n : i]! + 0.5 * b[i]! + 0.25 * b[y < n - 1 ? i + n : i]!
        }
      }
    } else a.set(b)
  }
  let sumSq = 0
  for (let i = 0; i < a.length; i++) sumSq += a[i]! * a[i]!
  const rms = Math.sqrt(sumSq / a.length) || 1
  for (let i = 0; i < a.length; i++) a[i] = a[i]! / rms
  return a
}

/** A 10-hex-character id, like Kaggle's. */
function hexId(random: Random): string {
  let s = ''
  for (let i = 0; i < 10; i++) s += Math.floor(random() * 16).toString(16)
  return s
}

/**
 * Generates a TGS-like dataset in memory, deterministic from `seed`: train
 * samples with masks (about 39 % empty, coverage spread like Kaggle's) and test
 * images, each with a depth. Returns the same shape as {@link readTgsDataset},
 * and exactly what {@link writeSyntheticTgs} writes and reading it back gives.
 *
 * @param options - counts, seed, empty share, size
 * @returns `{ train, test, report }`
 * @example
 * ```ts
 * const { train, test } = generateSyntheticTgs({ trainCount: 400, testCount: 100, seed: 1 })
 * ```
 */
export function generateSyntheticTgs(options: SyntheticTgsOptions = {}): SyntheticTgs {
  const trainCount = options.trainCount ?? 4000
  const testCount = options.testCount ?? 1000
  const seed = options.seed ?? 0
  const size = options.size ?? 101
  const emptyFraction = options.emptyFraction ?? 0.39
  checkOption(Number.isInteger(trainCount) && trainCount >= 0, `trainCount must be a non-negative integer, got ${trainCount}`)
  checkOption(Number.isInteger(testCount) && testCount >= 0, `testCount must be a non-negative integer, got ${testCount}`)
  checkOption(Number.isInteger(size) && size >= 8, `size must be an integer ≥ 8, got ${size}`)
  checkOption(emptyFraction >= 0 && emptyFraction <= 1, `emptyFraction must be in [0, 1], got ${emptyFraction}`)

  const idRandom = createRng(deriveSeed(seed, 3))
  const used = new Set<string>()
  const nextId = (): string => {
    let id = hexId(idRandom)
    while (used.has(id)) id = hexId(idRandom)
    used.add(id)
    return id
  }
  const train: TgsSample[] = []
  for (let i = 0; i < trainCount; i++) {
    const { image, mask, depth } = generateSyntheticImage(seed, i, { size, emptyFraction, stream: 'train' })
    const coverage = maskCoverage(mask)
    train.push({ id: nextId(), image, mask, depth, coverage, coverageClass: coverageClass(coverage), height: size, width: size })
  }
  const test: TgsTestImage[] = []
  for (let i = 0; i < testCount; i++) {
    const { image, depth } = generateSyntheticImage(seed, i, { size, emptyFraction, stream: 'test' })
    test.push({ id: nextId(), image, depth, height: size, width: size })
  }
  // Sorted by id, as readTgsDataset returns them.
  train.sort((a, b) => (a.id < b.id ? -1 : 1))
  test.sort((a, b) => (a.id < b.id ? -1 : 1))
  return {
    train,
    test,
    report: {
      source: `synthetic (seed ${seed})`,
      trainCount,
      testCount,
      emptyMasks: train.filter((s) => s.coverage === 0).length,
      maskSource: 'synthetic',
      // The formats writeSyntheticTgs writes these as, keyed like readTgsDataset's report.
      imageFormats: { [options.imageChannels === 1 ? '8-bit, 1 channel' : '8-bit, 3 channels']: trainCount + testCount },
      maskFormats: { '16-bit, 1 channel': trainCount },
      skipped: [],
      notes: [],
    },
  }
}
