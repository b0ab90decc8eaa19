// Benchmark: @unet/rle on a TGS-sized test set. Prints figures, asserts nothing.
// Run: pnpm --filter @unet/rle build && cd tools/bench && pnpm exec tsx rle.ts [--count 18000] [--repeats 7]
// Masks are Uint8Array (the fast path); 'encode, Float32Array mask' shows the path other array types take.
import { cpus } from 'node:os'
import { decode, encode, formatSubmission, parseSubmission } from '@unet/rle'
import { seededRandom as random } from '@unet/testing'
import { timeRuns, type Timing } from './timing'

const args = process.argv.slice(2)
function option(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const count = option('count', 18000)
const repeats = option('repeats', 7)
const size = 101
const shape = { height: size, width: size }


/** TGS-like masks: ~39% empty, the rest one or two blobs with ragged edges, some touching the image border. */
function masks(n: number): Uint8Array[] {
  const next = random(2018)
  const out: Uint8Array[] = []
  for (let k = 0; k < n; k++) {
    const mask = new Uint8Array(size * size)
    if (next() >= 0.39) {
      const blobs = next() < 0.7 ? 1 : 2
      for (let b = 0; b < blobs; b++) {
        const cy = next() * size
        const cx = next() * size
        const ry = 5 + next() * 60
        const rx = 5 + next() * 60
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            const d = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2
            if (d < 1 - 0.15 * next()) mask[y * size + x] = 1
          }
        }
      }
    }
    out.push(mask)
  }
  return out
}

function time(run: () => void): Timing {
  return timeRuns(run, repeats)
}

function ms(seconds: number): string {
  return `${(seconds * 1000).toFixed(1)} ms`.padStart(11)
}

function printTable(table: Array<[string, Timing]>, items: number, unit: string): void {
  console.log(`${''.padEnd(40)}${'CPU min'.padStart(11)}${'CPU median'.padStart(12)}${'wall min'.padStart(11)}${'wall median'.padStart(13)}${`µs/${unit}`.padStart(10)}`)
  for (const [name, t] of table) {
    console.log(
      `${name.padEnd(40)}${ms(t.cpuMin)}${ms(t.cpuMedian).padStart(12)}${ms(t.wallMin)}${ms(t.wallMedian).padStart(13)}` +
        `${((t.cpuMin / items) * 1e6).toFixed(2).padStart(10)}`,
    )
  }
}

const data = masks(count)
let rles: string[] = []
const ids = data.map((_, i) => i.toString(16).padStart(10, '0'))

console.log(`@unet/rle benchmark — ${count} masks of ${size}×${size}, ${repeats} timed runs after one warm-up`)
console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}); shared machine: figures are noisy`)
console.log(`masks: ${data.filter((m) => m.includes(1)).length} non-empty; µs per mask from the CPU min\n`)

const rows: Array<[string, Timing]> = []
rows.push(['encode, column-major (TGS)', time(() => (rles = data.map((m) => encode(m, shape))))])
const rleChars = rles.reduce((s, r) => s + r.length, 0)
rows.push(['encode, row-major', time(() => data.map((m) => encode(m, shape, { order: 'row-major' })))])
const floats = data.map((m) => Float32Array.from(m))
rows.push(['encode, Float32Array masks (copied)', time(() => floats.map((m) => encode(m, shape)))])
rows.push(['decode, column-major (TGS)', time(() => rles.map((r) => decode(r, shape)))])
let csv = ''
const submissionRows = rles.map((rleMask, i) => ({ id: ids[i] as string, rleMask }))
rows.push(['formatSubmission (checks ids + RLE)', time(() => (csv = formatSubmission(submissionRows)))])
rows.push(['parseSubmission (checks ids + RLE)', time(() => parseSubmission(csv))])

printTable(rows, count, 'mask')
console.log(`\nRLE text: ${(rleChars / 1e6).toFixed(2)} M characters; submission CSV: ${(csv.length / 1e6).toFixed(2)} MB`)
