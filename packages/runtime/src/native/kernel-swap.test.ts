import { getKernel, registerKernel, unregisterKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core'
import { expect, it } from 'vitest'

import { KernelSwap } from './kernel-swap'

it('replaces registered wasm kernels, runs the previous one (set up once) as the fallback, and puts them back', () => {
  const calls: string[] = []
  const previous = (tag: string): KernelFunc => () => {
    calls.push(tag)
    return { dataId: {}, shape: [], dtype: 'float32' } as TensorInfo
  }
  registerKernel({ kernelName: 'SwapTestA', backendName: 'wasm', kernelFunc: previous('a'), setupFunc: () => void calls.push('setup a') })
  registerKernel({ kernelName: 'SwapTestB', backendName: 'wasm', kernelFunc: previous('b') })
  const originalA = getKernel('SwapTestA', 'wasm')
  try {
    const swap = new KernelSwap()
    expect(swap.replace('SwapTestA', (fallback) => (args) => (calls.push('ours a'), fallback(args)))).toBe(true)
    expect(swap.replace('SwapTestB', () => previous('ours b'))).toBe(true)
    expect(swap.replace('SwapTestMissing', () => previous('never'))).toBe(false)
    expect(swap.names).toEqual(['SwapTestA', 'SwapTestB'])

    const args = { inputs: {}, backend: {}, attrs: {} } as never
    getKernel('SwapTestA', 'wasm')!.kernelFunc(args)
    getKernel('SwapTestA', 'wasm')!.kernelFunc(args)
    getKernel('SwapTestB', 'wasm')!.kernelFunc(args)
    expect(calls).toEqual(['ours a', 'setup a', 'a', 'ours a', 'a', 'ours b'])
    expect(getKernel('SwapTestMissing', 'wasm')).toBeUndefined()

    swap.restore()
    expect(swap.names).toEqual([])
    expect(getKernel('SwapTestA', 'wasm')).toBe(originalA)
    calls.length = 0
    getKernel('SwapTestB', 'wasm')!.kernelFunc(args)
    expect(calls).toEqual(['b'])
  } finally {
    unregisterKernel('SwapTestA', 'wasm')
    unregisterKernel('SwapTestB', 'wasm')
  }
})
