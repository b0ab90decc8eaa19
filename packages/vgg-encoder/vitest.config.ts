import { defineProject } from 'vitest/config'

export default defineProject({
  // building a VGG-16 (15 M weights) and training steps on the cpu backend take seconds on a busy machine
  test: { name: '@unet/vgg-encoder', testTimeout: 60_000, hookTimeout: 30_000 },
})
