import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import { beforeAll, describe, expect, it } from 'vitest'
import { seededValues } from '@unet/testing'

import { registerWasmTrainingKernels, WasmKernelError } from './index'

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]]

/** Deterministic values in [-1, 1) so cpu and wasm see identical inputs. */

interface Case {
  x: [number, number, number, number]
  k: number
  outChannels: number
  stride: number | [number, number]
  pad: Pad
}

const explicit: Pad = [[0, 0], [1, 2], [2, 0], [0, 0]]
const cases: Case[] = []
for (const k of [1, 3, 5]) {
  for (const stride of [1, 2]) {
    for (const pad of ['same', 'valid', explicit] as Pad[]) {
      cases.push({ x: [2, 9, 7, 3], k, outChannels: 4, stride, pad })
    }
  }
}
cases.push({ x: [1, 8, 8, 5], k: 3, outChannels: 6, stride: 2, pad: 'same' })
// Widths and channels divisible by 4 take the SIMD transpose of the filter gradient.
cases.push({ x: [2, 6, 8, 8], k: 3, outChannels: 5, stride: 1, pad: 'same' })
cases.push({ x: [1, 7, 12, 4], k: 3, outChannels: 4, stride: 1, pad: 'valid' })
// Input channels divisible by 4 take the SIMD interleave of the input gradient.
cases.push({ x: [2, 9, 11, 8], k: 3, outChannels: 4, stride: 2, pad: 'same' })
cases.push({ x: [2, 10, 7, 4], k: 2, outChannels: 3, stride: 2, pad: [[0, 0], [1, 0], [1, 2], [0, 0]] })
cases.push({ x: [1, 12, 12, 4], k: 3, outChannels: 2, stride: 3, pad: 'same' })
cases.push({ x: [3, 16, 11, 2], k: 2, outChannels: 3, stride: 2, pad: 'valid' })
cases.push({ x: [1, 6, 10, 4], k: 4, outChannels: 2, stride: 1, pad: 'same' })
// Stride 3 leaves rows of x that no output reads.
cases.push({ x: [1, 10, 8, 2], k: 2, outChannels: 3, stride: 3, pad: 'valid' })
// Our GEMM's remainder rows (6 input channels), 12 output channels (an 8- and a 4-column tile), 3 images; and
// 16 channels in and out (the fused Winograd input gradient beside the filter gradient).
cases.push({ x: [3, 9, 10, 6], k: 3, outChannels: 12, stride: 1, pad: 'same' })
cases.push({ x: [2, 8, 8, 16], k: 3, outChannels: 16, stride: 1, pad: 'same' })
cases.push({ x: [2, 8, 8, 16], k: 2, outChannels: 8, stride: 2, pad: 'same' })
// 1 × 1 with one output channel (a U-Net's last layer): the filter gradient as one `tn` product.
cases.push({ x: [3, 5, 7, 8], k: 1, outChannels: 1, stride: 1, pad: 'valid' })
cases.push({ x: [2, 4, 4, 12], k: 1, outChannels: 1, stride: 1, pad: 'same' })
// Unequal strides take the stock input-gradient kernel.
cases.push({ x: [2, 7, 9, 3], k: 3, outChannels: 2, stride: [2, 1], pad: 'same' })

const label = (c: Case) => `x=${c.x.join('x')} k=${c.k} stride=${String(c.stride)} pad=${JSON.stringify(c.pad)}`

/** Runs both gradient kernels for a case on the current backend and returns their values. */
function gradients(c: Case): { dw: Float32Array; dx: Float32Array; dyShape: number[] } {
  return tf.tidy(() => {
    const filterShape: [number, number, number, number] = [c.k, c.k, c.x[3], c.outChannels]
    const x = tf.tensor4d(seededValues(c.x.reduce((a, b) => a * b), 1), c.x)
    const w = tf.tensor4d(seededValues(filterShape.reduce((a, b) => a * b), 2), filterShape)
    const y = tf.conv2d(x, w, c.stride, c.pad)
    const dy = tf.tensor(seededValues(y.size, 3), y.shape)
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC' }
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape }) as tf.Tensor
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.x }) as tf.Tensor
    return { dw: dw.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array, dyShape: y.shape }
  })
}

function expectClose(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, what).toBe(expected.length)
  let worst = 0
  let scale = 1
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)))
    scale = Math.max(scale, Math.abs(expected[i] as number))
  }
  expect(worst / scale, what).toBeLessThan(1e-4)
}

describe('wasm training kernels', () => {
  const expected = new Map<Case, ReturnType<typeof gradients>>()

  beforeAll(async () => {
    await tf.setBackend('cpu')
    for (const c of cases) expected.set(c, gradients(c))
    registerWasmTrainingKernels()
    await tf.setBackend('wasm')
  })

  it('registers Conv2DBackpropFilter and Conv2DBackpropInput for wasm, once', () => {
    const names = registerWasmTrainingKernels()
    expect(names).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'Conv2DBackpropInput']))
    expect(registerWasmTrainingKernels()).toEqual(names)
    for (const name of names) expect(tf.getKernel(name, 'wasm')).toBeDefined()
  })

  it.each(cases)('agree with the cpu backend: %s', (c) => {
    const want = expected.get(c)!
    const got = gradients(c)
    expect(got.dyShape, label(c)).toEqual(want.dyShape)
    expectClose(got.dw, want.dw, `filter gradient ${label(c)}`)
    expectClose(got.dx, want.dx, `input gradient ${label(c)}`)
  })

  it('refuse NCHW data for the filter gradient with a typed error that says what to do', () => {
    const x = tf.zeros([1, 2, 5, 5])
    const dy = tf.zeros([1, 3, 5, 5])
    const run = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] })
    expect(run).toThrow(WasmKernelError)
    expect(run).toThrow(/NHWC/)
    tf.dispose([x, dy])
  })

  it('leak neither tensors nor wasm buffers', () => {
    const backend = tf.backend() as unknown as { numDataIds(): number }
    const tensors = tf.memory().numTensors
    const buffers = backend.numDataIds()
    for (const c of cases) gradients(c)
    expect(tf.memory().numTensors).toBe(tensors)
    expect(backend.numDataIds()).toBe(buffers)
  })

  it('give conv2d and conv2dTranspose the same gradients as cpu through tf.grads', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(seededValues(2 * 10 * 12 * 3, 4), [2, 10, 12, 3])
        const w = tf.tensor4d(seededValues(3 * 3 * 3 * 8, 5), [3, 3, 3, 8])
        const wt = tf.tensor4d(seededValues(3 * 3 * 4 * 8, 6), [3, 3, 4, 8])
        const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
          const h = tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))
          const up = tf.conv2dTranspose(h, c as tf.Tensor4D, [2, 10, 12, 4], 2, 'same')
          return tf.sum(tf.sigmoid(up))
        }
        return tf.grads(f)([x, w, wt]).map((g) => g.dataSync() as Float32Array)
      })
    await tf.setBackend('cpu')
    const want = run()
    await tf.setBackend('wasm')
    const got = run()
    want.forEach((g, i) => expectClose(got[i]!, g, `gradient ${i}`))
  })
})
