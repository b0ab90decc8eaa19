import { packageConfig } from '../../tools/build/tsup'

// The CLI and the library API, ESM only (a private app); the CLI keeps its `#!/usr/bin/env node` line.
// Annotated so `tsc --noEmit` (declaration: true) need not name tsup's own types from this folder (TS2742).
const config: ReturnType<typeof packageConfig> = packageConfig({ entry: ['src/index.ts', 'src/cli.ts'], format: ['esm'], dts: false })
export default config
