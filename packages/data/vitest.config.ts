import { defineProject } from 'vitest/config'

export default defineProject({
  // Generous: each file runs in about a second alone, but CI runs every package's tests at once.
  test: { name: '@unet/data', testTimeout: 60_000, hookTimeout: 60_000 },
})
