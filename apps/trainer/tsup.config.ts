import { packageConfig } from '../../tools/build/tsup'

// The CLI and the library API; the CLI keeps its `#!/usr/bin/env node` line.
export default packageConfig({ entry: ['src/index.ts', 'src/cli.ts'], format: ['esm'], dts: false })
