import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import * as browser from './browser'

const here = dirname(fileURLToPath(import.meta.url))

/** Every module `src/browser.ts` reaches, with the bare imports each makes. */
function importGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    const text = readFileSync(file, 'utf8')
    const specifiers = [...text.matchAll(/^(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!)
    seen.set(file, specifiers.filter((s) => !s.startsWith('.')))
    for (const s of specifiers.filter((s) => s.startsWith('.'))) visit(join(dirname(file), `${s.replace(/\.ts$/, '')}.ts`))
  }
  visit(entry)
  return seen
}

it('@unet/data/browser reaches no node: module, no sharp, no zip reader: only pure TypeScript and fflate', () => {
  const graph = importGraph(join(here, 'browser.ts'))
  expect(graph.size).toBeGreaterThan(5)
  const bare = new Set([...graph.values()].flat())
  expect([...bare]).toEqual(['fflate'])
})

it('exports the contract the browser page builds against', () => {
  for (const name of ['prepareImage', 'prepareMask', 'restoreProbabilities', 'restoreMask', 'createRng', 'encodePng', 'createAugmentation', 'createBatcher']) {
    expect(typeof (browser as Record<string, unknown>)[name]).toBe('function')
  }
})
