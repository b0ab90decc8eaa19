import { describe, expect, it } from 'vitest'
import { coverageClass, maskCoverage } from '@unet/data'
import { generateSyntheticImage, generateSyntheticTgs } from './synthetic'
import type { TgsSample } from './types'

const N = 101 * 101
const { train, test } = generateSyntheticTgs({ trainCount: 600, testCount: 20, seed: 21 })

/** Kaggle's per-image score: hits of IoU > 0.50 … 0.95 over ten thresholds; both empty scores 1. */
function imageScore(truth: Uint8Array, pred: Uint8Array): number {
  let inter = 0
  let union = 0
  for (let k = 0; k < truth.length; k++) {
    inter += truth[k]! & pred[k]!
    union += truth[k]! | pred[k]!
  }
  if (union === 0) return 1
  let hits = 0
  for (let j = 0; j < 10; j++) if (inter / union > 0.5 + 0.05 * j) hits++
  return hits / 10
}

/** The best dataset score of any rule `salt = pixel < t` or `salt = pixel ≥ t` (t over all 8-bit levels). */
function bestIntensityThreshold(samples: TgsSample[]): number {
  const cumulative = samples.map((s) => {
    const salt = new Int32Array(258)
    const rock = new Int32Array(258)
    s.image.forEach((v, i) => (s.mask[i] ? salt : rock)[Math.round(v * 255) + 1]!++)
    for (let k = 1; k < 258; k++) {
      salt[k]! += salt[k - 1]!
      rock[k]! += rock[k - 1]!
    }
    return { salt, rock }
  })
  let best = 0
  for (let k = 0; k <= 257; k++) {
    for (const below of [true, false]) {
      let total = 0
      for (const { salt, rock } of cumulative) {
        const tp = below ? salt[k]! : salt[257]! - salt[k]!
        const fp = below ? rock[k]! : rock[257]! - rock[k]!
        const union = salt[257]! + fp
        if (union === 0) total += 1
        else for (let j = 0; j < 10; j++) if (tp / union > 0.5 + 0.05 * j) total += 0.1
      }
      best = Math.max(best, total / samples.length)
    }
  }
  return best
}

/** Mean over a (2r+1)² window clipped at the edges, by running sums. */
function boxMean(a: Float32Array, r: number): Float32Array {
  const n = 101
  const pass = (src: Float32Array, stride: number, step: number): Float32Array => {
    const out = new Float32Array(N)
    for (let line = 0; line < n; line++) {
      let sum = 0
      let lo = 0
      let hi = -1
      for (let i = 0; i < n; i++) {
        while (hi < Math.min(n - 1, i + r)) sum += src[line * stride + ++hi * step]!
        while (lo < i - r) sum -= src[line * stride + lo++ * step]!
        out[line * stride + i * step] = sum / (hi - lo + 1)
      }
    }
    return out
  }
  return pass(pass(a, n, 1), 1, n)
}

/** Log of vertical over horizontal gradient energy in a 21 × 21 window: sediments are layered, salt is not. */
function layering(image: Float32Array): Float32Array {
  const n = 101
  const gx = new Float32Array(N)
  const gy = new Float32Array(N)
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const k = y * n + x
      gx[k] = (image[x < n - 1 ? k + 1 : k]! - image[x > 0 ? k - 1 : k]!) ** 2
      gy[k] = (image[y < n - 1 ? k + n : k]! - image[y > 0 ? k - n : k]!) ** 2
    }
  }
  const bx = boxMean(gx, 10)
  const by = boxMean(gy, 10)
  return by.map((v, k) => Math.log((v + 1e-5) / (bx[k]! + 1e-5)))
}

describe('generateSyntheticTgs', () => {
  it('is a pure function of the seed', () => {
    const again = generateSyntheticTgs({ trainCount: 5, testCount: 2, seed: 21 })
    const first = generateSyntheticTgs({ trainCount: 5, testCount: 2, seed: 21 })
    const bytes = (d: typeof first): Buffer =>
      Buffer.concat([...d.train, ...d.test].flatMap((s) => [Buffer.from(s.image.buffer), Buffer.from(s.id), Buffer.from(String(s.depth))]))
    expect(bytes(again).equals(bytes(first))).toBe(true)
    expect(again.train.map((s) => s.mask.join(''))).toEqual(first.train.map((s) => s.mask.join('')))
    const other = generateSyntheticTgs({ trainCount: 5, testCount: 2, seed: 22 })
    expect(other.train[0]!.image).not.toEqual(first.train[0]!.image)
    // Image i does not depend on how many others are generated.
    const sample = generateSyntheticImage(21, 3)
    expect(Buffer.from(sample.image.buffer).equals(Buffer.from(generateSyntheticImage(21, 3).image.buffer))).toBe(true)
  })

  it('looks like the TGS files: 101 × 101, 8-bit levels, unique 10-hex ids, integer depths 51…959', () => {
    const ids = new Set([...train, ...test].map((s) => s.id))
    expect(ids.size).toBe(620)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{10}$/)
    for (const s of [...train, ...test]) {
      expect(s.image.length).toBe(N)
      expect(Number.isInteger(s.depth) && s.depth >= 51 && s.depth <= 959).toBe(true)
    }
    for (const s of train.slice(0, 20)) for (let i = 0; i < N; i += 97) expect(Math.round(s.image[i]! * 255) / 255).toBeCloseTo(s.image[i]!, 6)
    for (const s of train) {
      expect(s.coverage).toBe(maskCoverage(s.mask))
      expect(s.coverageClass).toBe(coverageClass(s.coverage))
    }
  })

  it('has about 39 % empty masks and many small and many large salt bodies', () => {
    const counts = new Array<number>(11).fill(0)
    for (const s of train) counts[s.coverageClass]!++
    expect(counts[0]! / train.length).toBeGreaterThan(0.33)
    expect(counts[0]! / train.length).toBeLessThan(0.45)
    // Every class occurs; small (class 1) and nearly full (class 10) bodies are the commonest non-empty classes.
    for (let c = 1; c <= 10; c++) expect(counts[c]).toBeGreaterThan(0)
    const middle = Math.max(...counts.slice(2, 10))
    expect(counts[1]).toBeGreaterThan(middle)
    expect(counts[10]).toBeGreaterThan(middle)
    expect(train.filter((s) => s.coverage === 1).length).toBeGreaterThan(0)
  })

  it('draws layered sediments and weak salt interiors', () => {
    let sedimentLayering = 0
    let saltLayering = 0
    let sedimentEnergy = 0
    let saltEnergy = 0
    let sedimentPixels = 0
    let saltPixels = 0
    for (const s of train.slice(0, 120)) {
      for (let y = 1; y < 100; y++) {
        for (let x = 1; x < 100; x++) {
          const k = y * 101 + x
          const gy = Math.abs(s.image[k + 101]! - s.image[k - 101]!)
          const gx = Math.abs(s.image[k + 1]! - s.image[k - 1]!)
          // Interior salt only: the boundary reflection is strong on purpose.
          const inside = s.mask[k] && s.mask[k - 303] && s.mask[k + 303] && s.mask[k - 3] && s.mask[k + 3]
          const outside = !s.mask[k] && !s.mask[k - 303] && !s.mask[k + 303] && !s.mask[k - 3] && !s.mask[k + 3]
          if (inside) {
            saltLayering += gy - gx
            saltEnergy += gy
            saltPixels++
          } else if (outside) {
            sedimentLayering += gy - gx
            sedimentEnergy += gy
            sedimentPixels++
          }
        }
      }
    }
    // Sediments vary much more down than across (layers); salt interiors are weaker and nearly isotropic.
    expect(sedimentLayering / sedimentPixels).toBeGreaterThan(3 * Math.abs(saltLayering / saltPixels))
    expect(saltEnergy / saltPixels).toBeLessThan(0.7 * (sedimentEnergy / sedimentPixels))
  })

  it('is learnable but no single intensity threshold solves it', () => {
    const fit = train.slice(0, 200)
    const held = train.slice(200, 400)
    const empty = held.filter((s) => s.coverage === 0).length / held.length
    const threshold = bestIntensityThreshold(held)
    // No threshold does better than predicting "no salt" everywhere, give or take a little.
    expect(threshold).toBeLessThan(empty + 0.03)

    // A texture rule with two parameters fitted on other images (salt = weakly layered region,
    // nothing predicted when the region is small) clearly beats both on the held-out images.
    // Per image: salt / rock pixel counts per feature bin, so each (t, minArea) is scored in O(bins).
    const BINS = 16
    const binOf = (f: number): number => Math.min(BINS - 1, Math.max(0, Math.floor((f + 0.2) / 0.1) + 1))
    const tables = new Map(
      [...fit, ...held].map((s) => {
        const f = layering(s.image)
        const salt = new Int32Array(BINS + 1)
        const rock = new Int32Array(BINS + 1)
        for (let k = 0; k < N; k++) (s.mask[k] ? salt : rock)[binOf(f[k]!) + 1]!++
        for (let b = 1; b <= BINS; b++) {
          salt[b]! += salt[b - 1]!
          rock[b]! += rock[b - 1]!
        }
        return [s, { salt, rock }]
      }),
    )
    // Rule (b, a): salt = pixels in bins below b, unless fewer than a of them.
    const score = (set: TgsSample[], b: number, a: number): number =>
      set.reduce((sum, s) => {
        const { salt, rock } = tables.get(s)!
        const tp = salt[b]!
        const area = tp + rock[b]!
        if (area < a) return sum + (salt[BINS]! === 0 ? 1 : 0)
        const iou = tp / (salt[BINS]! + rock[b]!)
        let hits = 0
        for (let j = 0; j < 10; j++) if (iou > 0.5 + 0.05 * j) hits++
        return sum + hits / 10
      }, 0) / set.length
    let best = { t: 0, a: 0, score: -1 }
    for (let t = 0; t <= BINS; t++) for (const a of [300, 1000, 2000]) {
      const sc = score(fit, t, a)
      if (sc > best.score) best = { t, a, score: sc }
    }
    const learned = score(held, best.t, best.a)
    expect(learned).toBeGreaterThan(threshold + 0.1)
    expect(learned).toBeGreaterThan(empty + 0.1)
  })
})
