import { defineProject } from 'vitest/config'

// only stats.test.ts: the harnesses themselves are tools (minutes per seed), not tests
export default defineProject({ test: { name: '@unet/parity', include: ['*.test.ts'] } })
