import { defineProject } from 'vitest/config'

export default defineProject({
  // tests that build or train small networks take a few seconds on a loaded 2-core machine
  test: { name: '@unet/losses', testTimeout: 60_000, hookTimeout: 60_000 },
})
