import { build } from 'esbuild'
import { expect, it } from 'vitest'

// The web page imports parseRunFile, the TTA views and the post-processing from the main entry: it must bundle
// for a browser. Node-only file functions sit behind `@unet/predict/node`.
it('bundles the main entry for a browser, and the node entry needs Node built-ins', async () => {
  const bundle = (entry: string) =>
    build({ entryPoints: [new URL(entry, import.meta.url).pathname], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', external: ['@tensorflow/*'] })
  const main = await bundle('./index.ts')
  expect(main.errors).toEqual([])
  expect(main.outputFiles[0]?.text).toContain('parseRunFile')
  await expect(bundle('./node.ts')).rejects.toThrow(/Could not resolve "(node:)?(fs|path)/)
})
