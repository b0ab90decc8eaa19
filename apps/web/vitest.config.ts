import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: '@unet/web',
    // the page is built once (when a source is newer than dist/page) for the readme and browser tests
    globalSetup: ['./test/global-setup.ts'],
    // the browser test builds the page once and drives Chromium; both take a few seconds on a loaded machine
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
