import { packageConfig } from '../../tools/build/tsup'

// Two entries: the browser-safe main one and the node-only file functions (`@unet/predict/node`).
const config: ReturnType<typeof packageConfig> = packageConfig({ entry: ['src/index.ts', 'src/node.ts'] })
export default config
