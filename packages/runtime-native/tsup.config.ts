import { packageConfig } from '../../tools/build/tsup'

// shims: the loader finds the addon next to the built file through import.meta.url, also in the CJS build.
const config: ReturnType<typeof packageConfig> = packageConfig({ shims: true })
export default config
