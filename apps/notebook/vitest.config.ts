import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: '@unet/notebook',
    globalSetup: ['./test/build-kernel.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
