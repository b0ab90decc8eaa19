// Vitest global setup: builds the kernel (CLI + evaluator thread) into .test-dist so that the tests
// run the current sources as a real child process, without touching dist/ (which `pnpm build` owns).
import { fileURLToPath } from 'node:url'
import { build } from 'tsup'

export default async function setup(): Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url))
  await build({
    config: false,
    entry: [`${root}src/cli.ts`, `${root}src/worker.ts`],
    outDir: `${root}.test-dist`,
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: false,
    sourcemap: true,
    clean: true,
    silent: true,
    splitting: false,
    skipNodeModulesBundle: true,
  })
}
