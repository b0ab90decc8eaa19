import { readdirSync, readFileSync } from 'node:fs'
import { expect, it } from 'vitest'

// Browser bundlers fail on a Node built-in they can see (esbuild: 'Could not resolve "node:fs"'), even one only
// imported lazily. The package keeps Node built-ins behind a run-time specifier in the file functions, so
// encode, decode and the string and stream functions bundle for browsers.
it('imports no Node.js built-in where a bundler would see it', () => {
  const dir = new URL('.', import.meta.url)
  const sources = readdirSync(dir).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
  expect(sources).toContain('submission-files.ts')
  const offending: string[] = []
  for (const name of sources) {
    const text = readFileSync(new URL(name, dir), 'utf8')
    for (const [i, line] of text.split('\n').entries()) {
      const staticImport = /^\s*import\s+(?!type\b)[^'"]*from\s+['"](node:)?(fs|path|os|stream|process)(\/[\w/]+)?['"]/.test(line)
      const literalDynamicImport = /import\(\s*(\/\*.*?\*\/\s*)*['"](node:)?\w+/.test(line)
      if (staticImport || literalDynamicImport) offending.push(`${name}:${i + 1}: ${line.trim()}`)
    }
  }
  expect(offending).toEqual([])
})
