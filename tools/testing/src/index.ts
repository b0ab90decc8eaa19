import { readFileSync, writeFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

/**
 * Returns the first fenced code block (```ts / ```typescript / ```js) of a README.
 * Throws when there is none, so a README that lost its example fails its test.
 */
export function firstCodeBlock(markdown: string): string {
  const match = /```(?:ts|typescript|js|javascript)\n([\s\S]*?)```/.exec(markdown)
  if (!match?.[1]) throw new Error('README has no ```ts usage block')
  return match[1]
}

/**
 * Runs a package README's first usage block as written, with imports of the
 * package itself pointed at its source (`src/index.ts`), so the example is
 * checked against the code under test rather than a stale build.
 *
 * @param packageDir - the package folder (holding README.md and package.json)
 * @returns the example module's exports (examples may `export` values for the test to check)
 */
export async function runReadmeExample(packageDir: string): Promise<Record<string, unknown>> {
  const dir = resolve(packageDir)
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }
  const code = firstCodeBlock(readFileSync(join(dir, 'README.md'), 'utf8'))
  const escaped = pkg.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  const rewritten = code.replace(new RegExp(`(['"])${escaped}\\1`, 'g'), `'./src/index.ts'`)
  const file = join(dir, `.readme-example-${process.pid}-${Date.now()}.ts`)
  writeFileSync(file, rewritten)
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>
  } finally {
    rmSync(file, { force: true })
  }
}

/**
 * A deterministic pseudo-random stream in [0, 1) (mulberry32), so test inputs and benchmark data are the same
 * on every run and a failure reproduces from its seed.
 *
 * @param seed - any 32-bit integer
 * @returns a function returning the next number of the stream
 * @example
 * const next = seededRandom(7)
 * const mask = Uint8Array.from({ length: 101 * 101 }, () => (next() < 0.3 ? 1 : 0))
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * `n` seeded floats, uniform in [shift − 1, shift + 1): test inputs for kernels, the same on every run.
 *
 * @param n - how many
 * @param seed - any 32-bit integer (see {@link seededRandom})
 * @param shift - the centre of the range
 * @returns the values
 * @example
 * const x = tf.tensor4d(seededValues(2 * 5 * 3 * 8, 1), [2, 5, 3, 8])
 */
export function seededValues(n: number, seed: number, shift = 0): Float32Array {
  const next = seededRandom(seed)
  return Float32Array.from({ length: n }, () => 2 * next() - 1 + shift)
}
