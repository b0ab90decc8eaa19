import { defineConfig, type Options } from 'tsup'

/**
 * The one tsup configuration every published package builds with:
 * ESM + CJS + declaration files for both, source maps, Node 20 target.
 * A package's `tsup.config.ts` calls this with its entry points.
 */
export function packageConfig(overrides: Options = {}): ReturnType<typeof defineConfig> {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: false,
    treeshake: true,
    ...overrides,
  })
}
