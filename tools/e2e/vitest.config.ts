import { defineProject } from 'vitest/config'

export default defineProject({
  // the CLI runs in child processes; a whole train → evaluate → predict chain takes tens of seconds on 2 busy cores
  test: { name: '@unet/e2e', testTimeout: 180_000, hookTimeout: 180_000 },
})
