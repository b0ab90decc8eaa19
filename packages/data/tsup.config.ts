import type { defineConfig } from 'tsup'
import { packageConfig } from '../../tools/build/tsup'

// Two entries: `.` (node: readers through sharp) and `./browser` (pure TypeScript, no node: imports).
// Annotated: with `declaration` on, tsc cannot name the inferred type through tools/build's node_modules (TS2742).
const config: ReturnType<typeof defineConfig> = packageConfig({ entry: ['src/index.ts', 'src/browser.ts'] })
export default config
