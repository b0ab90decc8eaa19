// Benchmark: @unet/metrics on a TGS-sized validation set. Prints figures, asserts nothing.
// Run: pnpm --filter @unet/metrics build && cd tools/bench && pnpm exec tsx metrics.ts [--count 4000] [--repeats 5]
import { cpus } from 'node:os'
import { confusionCounts, sweepThresholds, tgsScore } from '@unet/metrics'
import { seededRandom as random } from '@unet/testing'
import { timeRuns, type Timing } from './timing'

const args = process.argv.slice(2)
function option(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const count = option('count', 4000)
const repeats = option('repeats', 5)
const naiveCount = option('naive-count', 400)
const size = 101
const n = size * size


/**
 * TGS-like validation data: ~39% empty truths, the rest an elliptical salt body; probabilities are a soft
 * version of a slightly shifted and resized ellipse (a plausible model output) plus noise.
 */
function dataset(images: number): { probs: Float32Array[]; truths: Uint8Array[] } {
  const next = random(2018)
  const probs: Float32Array[] = []
  const truths: Uint8Array[] = []
  for (let k = 0; k < images; k++) {
    const truth = new Uint8Array(n)
    const prob = new Float32Array(n)
    const empty = next() < 0.39
    const cy = next() * size
    const cx = next() * size
    const ry = 5 + next() * 60
    const rx = 5 + next() * 60
    const dy = (next() - 0.5) * 8
    const dx = (next() - 0.5) * 8
    const grow = 0.8 + next() * 0.4
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x
        if (!empty && ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1) truth[i] = 1
        const d = ((y - cy - dy) / (ry * grow)) ** 2 + ((x - cx - dx) / (rx * grow)) ** 2
        const logit = (empty ? -4 : 6 * (1 - d)) + (next() - 0.5) * 3
        prob[i] = 1 / (1 + Math.exp(-logit))
      }
    }
    probs.push(prob)
    truths.push(truth)
  }
  return { probs, truths }
}

function time(run: () => void, times = repeats): Timing {
  return timeRuns(run, times)
}

const thresholds = Array.from({ length: 100 }, (_, i) => i / 100)
const { probs, truths } = dataset(count)
const bins = probs.map((p) => p.map((v) => (v > 0.5 ? 1 : 0)))

console.log(`@unet/metrics benchmark — ${count} maps of ${size}×${size}, ${repeats} timed runs after one warm-up`)
console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}); shared machine: figures are noisy`)
console.log('µs per map from the CPU min\n')

const rows: Array<[string, number, Timing]> = []
let best = { threshold: 0, score: 0 }
rows.push(['sweepThresholds, 100 thresholds', count, time(() => (best = sweepThresholds(probs, truths, thresholds).best))])
rows.push(['tgsScore at one threshold', count, time(() => tgsScore(probs, truths, { threshold: 0.5 }))])
rows.push(['confusionCounts of binary masks', count, time(() => bins.forEach((b, k) => confusionCounts(b, truths[k] as Uint8Array)))])
// The obvious way, one pass per threshold, on a subset (it is ~100× the work) and scaled up to `count` maps.
const subsetProbs = probs.slice(0, naiveCount)
const subsetTruths = truths.slice(0, naiveCount)
const naive = time(() => thresholds.map((threshold) => tgsScore(subsetProbs, subsetTruths, { threshold })), 1)
const scale = count / naiveCount
const scaled = (t: Timing): Timing => ({
  wallMin: t.wallMin * scale,
  wallMedian: t.wallMedian * scale,
  cpuMin: t.cpuMin * scale,
  cpuMedian: t.cpuMedian * scale,
})
rows.push([`naive: tgsScore per threshold (${naiveCount} maps, ×${scale})`, count, scaled(naive)])

function ms(seconds: number): string {
  return `${(seconds * 1000).toFixed(1)} ms`.padStart(11)
}
console.log(`${''.padEnd(46)}${'CPU min'.padStart(11)}${'CPU median'.padStart(12)}${'wall min'.padStart(11)}${'wall median'.padStart(13)}${'µs/map'.padStart(10)}`)
for (const [name, images, t] of rows) {
  console.log(
    `${name.padEnd(46)}${ms(t.cpuMin)}${ms(t.cpuMedian).padStart(12)}${ms(t.wallMin)}${ms(t.wallMedian).padStart(13)}` +
      `${((t.cpuMin / images) * 1e6).toFixed(2).padStart(10)}`,
  )
}
const sweep = rows[0]?.[2] as Timing
console.log(
  `\nbest threshold ${best.threshold}, TGS score ${best.score.toFixed(4)}; ` +
    `the sweep takes ${(naive.cpuMin * scale / sweep.cpuMin).toFixed(0)}× less CPU than one tgsScore pass per threshold`,
)
