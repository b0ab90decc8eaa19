import { packageConfig } from '../../tools/build/tsup'

// The server behind `unet serve`, ESM only (a private app). clean is off: vite builds the page into dist/page first.
const config: ReturnType<typeof packageConfig> = packageConfig({ entry: ['src/index.ts'], format: ['esm'], dts: true, clean: false })
export default config
