import { defineProject } from 'vitest/config'

export default defineProject({
  // Generous: the suite is a few seconds alone, but CI machines run every package's tests at once.
  test: { name: '@unet/data-tgs', testTimeout: 60_000, hookTimeout: 60_000 },
})
