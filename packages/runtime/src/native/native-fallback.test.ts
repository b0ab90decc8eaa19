import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import { describe, expect, it } from 'vitest'

import { startBackend, type BackendEnvironment } from '../backend'

/** A machine whose @unet/runtime-native behaves as `native` says; no tfjs-node. */
function environment(env: Record<string, string>, native: () => unknown): BackendEnvironment & { imported: string[] } {
  const imported: string[] = []
  return {
    imported,
    env,
    cores: 1,
    load: 0,
    importModule: async (name: string) => {
      imported.push(name)
      if (name === '@unet/runtime-native') return native()
      throw Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' })
    },
  }
}

const unbuilt = () => ({ loadNativeConv: () => null, nativeConvReason: () => 'the oneDNN addon is not built (install libdnnl-dev …)' })

/** The wasm kernels still compute a conv and both its gradients. */
function convWorks(): void {
  const [y, dx, dw] = tf.tidy(() => {
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D
    const w = tf.ones([3, 3, 1, 1]) as tf.Tensor4D
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'))
    const [gx, gw] = g([x, w])
    return [tf.conv2d(x, w, 1, 'same').dataSync(), gx!.dataSync(), gw!.dataSync()]
  })
  expect(Array.from(y!.slice(0, 2))).toEqual([4, 6])
  expect(dx![0]).toBe(4)
  expect(dw![4]).toBe(16)
}

describe('initBackend without native conv kernels', () => {
  it('picks wasm and says why when the addon is not built', async () => {
    const info = await startBackend({}, environment({}, unbuilt))
    expect(info.backend).toBe('wasm')
    expect(info.native).toBe(false)
    expect(info.reason).toContain('no native conv kernels (the oneDNN addon is not built')
    expect(info.kernels).toContain('Conv2DBackpropFilter')
    convWorks()
  })

  it('picks wasm when @unet/runtime-native is not installed, or throws while loading', async () => {
    const missing = await startBackend({}, environment({}, () => {
      throw Object.assign(new Error("Cannot find package '@unet/runtime-native'"), { code: 'ERR_MODULE_NOT_FOUND' })
    }))
    expect(missing.reason).toContain('no native conv kernels (@unet/runtime-native is not installed)')
    const broken = await startBackend({}, environment({}, () => ({
      loadNativeConv: () => {
        throw new Error('libdnnl.so.2: cannot open shared object file')
      },
    })))
    expect(broken.backend).toBe('wasm')
    expect(broken.native).toBe(false)
    expect(broken.reason).toContain('libdnnl.so.2: cannot open shared object file')
    convWorks()
  })

  it('does not even look for the addon with UNET_NATIVE=0 or native: false', async () => {
    const off = environment({ UNET_NATIVE: '0' }, unbuilt)
    const info = await startBackend({}, off)
    expect(info.native).toBe(false)
    expect(info.reason).toContain('no native conv kernels (off: UNET_NATIVE=0)')
    expect(off.imported).not.toContain('@unet/runtime-native')
    const option = environment({}, unbuilt)
    expect((await startBackend({ native: false }, option)).reason).toContain('(off: option native: false)')
    expect(option.imported).not.toContain('@unet/runtime-native')
    convWorks()
  })
})
