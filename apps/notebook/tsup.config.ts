import { packageConfig } from '../../tools/build/tsup'

// An app: ESM only, with the CLI and the evaluator thread as their own entry files.
const config: ReturnType<typeof packageConfig> = packageConfig({ entry: ['src/index.ts', 'src/cli.ts', 'src/worker.ts'], format: ['esm'] })
export default config
