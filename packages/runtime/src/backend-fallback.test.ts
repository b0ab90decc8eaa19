import * as tf from '@tensorflow/tfjs-core'
import { expect, it } from 'vitest'

import { startBackend } from './backend'

it('falls back to one wasm thread, and says so, when the threaded build cannot be set up', async () => {
  const tmp = process.env.TMPDIR
  // The threaded build needs its worker scripts on disk; make the temp folder unusable.
  process.env.TMPDIR = '/dev/null/unusable'
  try {
    const info = await startBackend({}, { env: {}, cores: 4,
    load: 0,
    importModule: async (name) => Promise.reject(new Error(`Cannot find module '${name}'`)) })
    expect(info.backend).toBe('wasm')
    expect(info.threads).toBe(1)
    expect(info.reason).toMatch(/threaded build did not start .*so 1 thread/)
    expect(info.kernels).toContain('Conv2DBackpropFilter')
    // And it computes.
    const y = tf.tidy(() => tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, 'same').dataSync())
    expect(Array.from(y.slice(0, 2))).toEqual([4, 6])
  } finally {
    if (tmp === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = tmp
  }
})
