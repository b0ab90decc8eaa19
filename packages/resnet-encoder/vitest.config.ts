import { defineProject } from 'vitest/config'

export default defineProject({
  // building ResNets and training steps on a loaded 2-core machine take seconds
  test: { name: '@unet/resnet-encoder', testTimeout: 120_000, hookTimeout: 60_000 },
})
