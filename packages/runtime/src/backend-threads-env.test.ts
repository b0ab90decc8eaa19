import { expect, it } from 'vitest'

import { startBackend } from './backend'

it('takes the wasm thread count from UNET_WASM_THREADS when no option gives one', async () => {
  const info = await startBackend({}, {
    env: { UNET_WASM_THREADS: '1' },
    cores: 4,
    load: 0,
    importModule: async (name) => Promise.reject(new Error(`Cannot find module '${name}'`)),
  })
  expect(info.backend).toBe('wasm')
  expect(info.threads).toBe(1)
  expect(info.reason).toContain('on 1 thread (UNET_WASM_THREADS=1)')
})
