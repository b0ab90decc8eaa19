import { packageConfig } from '../../tools/build/tsup'

// Annotated so `tsc --noEmit` (declaration: true) need not name tsup's own types from this folder.
const config: ReturnType<typeof packageConfig> = packageConfig()
export default config
