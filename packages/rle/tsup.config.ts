import { packageConfig } from '../../tools/build/tsup'

// Annotated so `tsc --noEmit` (declaration: true) need not name tsup's own types from this folder.
// `node:` stays on the lazily imported file-system modules, and their bundler-ignore comments with it, so
// browser bundles of this package do not try to resolve `fs`.
const config: ReturnType<typeof packageConfig> = packageConfig({ removeNodeProtocol: false })
export default config
