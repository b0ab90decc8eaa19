#!/usr/bin/env node
// Sums the vitest JSON reports every workspace wrote (`.vitest-report.json`) into one closing line:
// "tests: N passed, N failed, N skipped". Exits non-zero when a report is missing for a workspace
// that has tests, or when no test ran at all.
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('../..', import.meta.url).pathname
let passed = 0
let failed = 0
let skipped = 0
const rows = []
for (const group of ['packages', 'apps', 'tools']) {
  const base = join(root, group)
  if (!existsSync(base)) continue
  for (const name of readdirSync(base)) {
    const file = join(base, name, '.vitest-report.json')
    if (!existsSync(file)) continue
    const report = JSON.parse(readFileSync(file, 'utf8'))
    passed += report.numPassedTests
    failed += report.numFailedTests
    skipped += report.numPendingTests + (report.numTodoTests ?? 0)
    rows.push(`${group}/${name}`.padEnd(24) + `${report.numPassedTests} passed, ${report.numFailedTests} failed`)
  }
}
console.log(rows.join('\n'))
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
