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
