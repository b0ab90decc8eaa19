import type { defineConfig } from 'tsup'
import { packageConfig } from '../../tools/build/tsup'

// annotated: with `declaration` on, tsc cannot name the inferred type through tools/build's node_modules (TS2742)
const config: ReturnType<typeof defineConfig> = packageConfig()
export default config
