import { defineConfig } from 'vitest/config'

// One vitest project per workspace package, each named after its package.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tools/*'],
  },
})
