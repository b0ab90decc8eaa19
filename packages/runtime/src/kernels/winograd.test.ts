import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import { seededValues } from '@unet/testing'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { registerWasmTrainingKernels } from './index'
import { gemmTuning } from './gemm'
import { fusedTuning, winogradTuning } from './winograd'

/** Deterministic values in [-1, 1) so cpu and wasm see identical inputs. */

interface Case {
  x: [number, number, number, number]
  outChannels: number
  bias: boolean
  activation: 'linear' | 'relu'
  pad: 'same' | [[number, number], [number, number], [number, number], [number, number]]
  /** Whether the fused loop takes it (M = rows · tiles per row a multiple of 4 for some divisor of the tile rows). */
  fused: boolean
}

function run(backend: 'cpu' | 'wasm', c: Case): Float32Array {
  tf.setBackend(backend)
  return tf.tidy(() => {
    const [, , , ci] = c.x
    const x = tf.tensor4d(seededValues(c.x.reduce((a, b) => a * b, 1), 1), c.x)
    const filter = tf.tensor4d(seededValues(9 * ci * c.outChannels, 2), [3, 3, ci, c.outChannels])
    const bias = c.bias ? tf.tensor1d(seededValues(c.outChannels, 3)) : undefined
    const y = tf.fused.conv2d({ x, filter, strides: 1, pad: c.pad, bias, activation: c.activation })
    return y.dataSync() as Float32Array
  })
}

describe('Winograd F(2×2, 3×3) FusedConv2D on wasm', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels()
    await tf.setBackend('wasm')
  })
  afterEach(() => {
    winogradTuning.minChannels = 32
    winogradTuning.maxTiles = 16384
    fusedTuning.gradMinChannels = 32
  })

  const cases: Case[] = [
    { x: [2, 8, 6, 32], outChannels: 8, bias: true, activation: 'relu', pad: 'same', fused: true },
    { x: [1, 4, 10, 36], outChannels: 12, bias: false, activation: 'linear', pad: 'same', fused: false },
    { x: [3, 2, 2, 32], outChannels: 4, bias: true, activation: 'linear', pad: [[0, 0], [1, 1], [1, 1], [0, 0]], fused: false },
    { x: [2, 16, 16, 64], outChannels: 64, bias: true, activation: 'relu', pad: 'same', fused: true },
    // The 16-channel convolutions of a U-Net's first level, and 8 channels, 3 images, 12-column output tiles.
    { x: [2, 8, 8, 16], outChannels: 16, bias: true, activation: 'relu', pad: 'same', fused: true },
    { x: [3, 4, 12, 8], outChannels: 20, bias: false, activation: 'linear', pad: 'same', fused: true },
  ]
  // Fused (one pass per block of tiles), the three steps one after the other with our GEMM, and with XNNPACK's.
  const paths = [
    { name: 'fused', fused: true, gemm: true },
    { name: 'three passes, our GEMM', fused: false, gemm: true },
    { name: 'three passes, XNNPACK GEMMs', fused: false, gemm: false },
  ]
  for (const c of cases) {
    for (const path of paths) {
      if (path.fused && !c.fused) continue
      it(`matches the cpu backend: x ${c.x.join('×')} → ${c.outChannels}, ${c.bias ? 'bias' : 'no bias'}, ${c.activation}, ${path.name}`, () => {
        const want = run('cpu', c)
        fusedTuning.enabled = path.fused
        gemmTuning.enabled = path.gemm
        winogradTuning.minChannels = 4
        const runs = [fusedTuning.runs, gemmTuning.runs]
        let got: Float32Array
        try {
          got = run('wasm', c)
        } finally {
          fusedTuning.enabled = true
          gemmTuning.enabled = true
        }
        expect(fusedTuning.runs > runs[0]!).toBe(path.fused)
        expect(gemmTuning.runs > runs[1]!).toBe(path.gemm && !path.fused)
        expect(got.length).toBe(want.length)
        let worst = 0
        let scale = 0
        for (let i = 0; i < want.length; i++) {
          worst = Math.max(worst, Math.abs((got[i] as number) - (want[i] as number)))
          scale = Math.max(scale, Math.abs(want[i] as number))
        }
        // Sums of 9·C products of values in [−1, 1): float32 rounding, a little larger than the direct sum's.
        expect(worst).toBeLessThan(1e-5 * Math.max(1, scale))
        if (c.activation === 'relu') expect(Math.min(...got)).toBeGreaterThanOrEqual(0)
      })
    }
  }

  it('runs the Winograd path for these cases, not the stock kernel', () => {
    const c = cases[0]!
    const wino = run('wasm', c)
    winogradTuning.enabled = false
    try {
      const direct = run('wasm', c)
      // Different arithmetic, same result to rounding: equal to the last bit would mean the stock kernel ran twice.
      expect(wino.some((v, i) => v !== direct[i])).toBe(true)
      let worst = 0
      for (let i = 0; i < wino.length; i++) worst = Math.max(worst, Math.abs((wino[i] as number) - (direct[i] as number)))
      expect(worst).toBeLessThan(1e-4)
    } finally {
      winogradTuning.enabled = true
    }
  })

  it('leaves other convolutions (odd sizes, few channels, stride 2, 1 × 1) to the stock kernel, with the same results', () => {
    for (const [shape, k, stride, co] of [
      [[1, 7, 6, 32], 3, 1, 8],
      [[1, 8, 8, 4], 3, 1, 8],
      [[1, 8, 8, 32], 3, 2, 8],
      [[1, 8, 8, 32], 1, 1, 8],
    ] as Array<[[number, number, number, number], number, number, number]>) {
      const go = (backend: 'cpu' | 'wasm') => {
        tf.setBackend(backend)
        return tf.tidy(() => {
          const x = tf.tensor4d(seededValues(shape.reduce((a, b) => a * b, 1), 4), shape)
          const f = tf.tensor4d(seededValues(k * k * shape[3] * co, 5), [k, k, shape[3], co])
          return tf.fused.conv2d({ x, filter: f, strides: stride, pad: 'same', bias: tf.ones([co]), activation: 'relu' }).dataSync() as Float32Array
        })
      }
      const want = go('cpu')
      const got = go('wasm')
      for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-4)
    }
  })

  it('computes the input gradient of a 3 × 3 stride-1 convolution (Conv2DBackpropInput) as the cpu backend does', () => {
    const go = (backend: 'cpu' | 'wasm') => {
      tf.setBackend(backend)
      return tf.tidy(() => {
        const dy = tf.tensor4d(seededValues(2 * 8 * 6 * 32, 6), [2, 8, 6, 32])
        const filter = tf.tensor4d(seededValues(9 * 8 * 32, 7), [3, 3, 8, 32])
        return tf.conv2dTranspose(dy, filter, [2, 8, 6, 8], 1, 'same').dataSync() as Float32Array
      })
    }
    const want = go('cpu')
    const runs = fusedTuning.runs
    const got = go('wasm')
    expect(fusedTuning.runs).toBeGreaterThan(runs)
    winogradTuning.enabled = false
    let direct: Float32Array
    try {
      direct = go('wasm')
    } finally {
      winogradTuning.enabled = true
    }
    expect(got.some((v, i) => v !== direct[i])).toBe(true)
    for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-4)
  })

  it('computes the filter gradient of 3 × 3 stride-1 \'same\' convolutions as the cpu backend does, through Winograd where it can', () => {
    for (const [shape, co, wino] of [
      [[2, 8, 8, 16], 16, true],
      [[3, 4, 12, 8], 20, true],
      [[1, 16, 8, 32], 4, true],
      [[2, 6, 10, 12], 12, false], // 3 × 5 tiles per image: no block of a multiple of 4 tiles
      [[1, 7, 8, 16], 8, false], // odd height
    ] as Array<[[number, number, number, number], number, boolean]>) {
      const go = (backend: 'cpu' | 'wasm') => {
        tf.setBackend(backend)
        return tf.tidy(() => {
          const x = tf.tensor4d(seededValues(shape.reduce((a, b) => a * b, 1), 8), shape)
          const dy = tf.tensor4d(seededValues(shape[0] * shape[1] * shape[2] * co, 9), [shape[0], shape[1], shape[2], co])
          const filter = tf.zeros([3, 3, shape[3], co]) as tf.Tensor4D
          const [df] = tf.grads((f: tf.Tensor) => tf.conv2d(x, f as tf.Tensor4D, 1, 'same'))([filter], dy)
          return df!.dataSync() as Float32Array
        })
      }
      const want = go('cpu')
      // Small channel counts here, to keep the test fast.
      fusedTuning.gradMinChannels = 4
      const runs = fusedTuning.gradRuns
      const got = go('wasm')
      expect(fusedTuning.gradRuns > runs).toBe(wino)
      let worst = 0
      let scale = 0
      for (let i = 0; i < want.length; i++) {
        worst = Math.max(worst, Math.abs((got[i] as number) - (want[i] as number)))
        scale = Math.max(scale, Math.abs(want[i] as number))
      }
      // Sums over N·H·W pixels of products of values in [−1, 1).
      expect(worst).toBeLessThan(2e-6 * Math.max(1, scale))
    }
  })

  it('leaks no tensors and no wasm memory', () => {
    tf.setBackend('wasm')
    const c = cases[3]!
    const grad = () =>
      tf.tidy(() => {
        fusedTuning.gradMinChannels = 4
        const x = tf.tensor4d(seededValues(2 * 8 * 8 * 16, 10), [2, 8, 8, 16])
        return tf.grads((f: tf.Tensor) => tf.conv2d(x, f as tf.Tensor4D, 1, 'same'))([tf.zeros([3, 3, 16, 8])], tf.ones([2, 8, 8, 8]))[0]!.dataSync()
      })
    run('wasm', c)
    grad()
    const before = tf.memory()
    for (let i = 0; i < 3; i++) {
      run('wasm', c)
      grad()
    }
    const after = tf.memory()
    expect(after.numTensors).toBe(before.numTensors)
    expect(after.numBytes).toBe(before.numBytes)
  })
})
