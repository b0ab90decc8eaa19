import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import { seededValues } from '@unet/testing'
import { beforeAll, describe, expect, it } from 'vitest'

import { GEMM_MR, gemmCalls, gemmLoops, gemmTuning, gemmUsesFma, runGemm, type GemmLoops } from './gemm'
import { registerWasmTrainingKernels } from './index'
import type { WasmBackendLike } from './wasm-backend'

/** Deterministic values in [-1, 1). */

let backend: WasmBackendLike
let loops: GemmLoops

/** Float32 data on the wasm heap: its tensor (to dispose) and byte offset. */
function onHeap(data: Float32Array): { t: tf.Tensor; at: number } {
  const t = tf.tensor1d(data)
  return { t, at: backend.dataIdMap.get(t.dataId)!.memoryOffset }
}

const read = (at: number, n: number) => Float32Array.from(new Float32Array(backend.wasm.HEAPU8.buffer, at, n))

/** |got − want| ≤ tol · (Σ|a·b| of that entry): float32 rounding of a sum, whatever its order. */
function expectClose(got: Float32Array, want: Float64Array, scale: Float64Array, tol = 1e-6): void {
  expect(got.length).toBe(want.length)
  for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThanOrEqual(tol * ((scale[i] as number) + 1e-30))
}

describe('wasm SIMD GEMM (gemm.ts)', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels()
    await tf.setBackend('wasm')
    backend = tf.backend() as unknown as WasmBackendLike
    loops = gemmLoops(backend)!
  })

  it('is available on this engine (with fused multiply-adds where relaxed SIMD is there)', () => {
    expect(loops).not.toBeNull()
    expect(typeof gemmUsesFma()).toBe('boolean')
  })

  // Rows not divisible by the 4-row block, columns not by 8, K not by its chunk; strided A, B and C.
  const shapes: Array<[number, number, number]> = [[1, 4, 1], [3, 12, 7], [4, 8, 33], [9, 20, 300], [17, 4, 5], [64, 36, 129]]
  for (const transA of [false, true]) {
    for (const [m, n, k] of shapes) {
      it(`${transA ? 'tn' : 'nn'}: C = ${transA ? 'Aᵀ' : 'A'} · B for M ${m}, N ${n}, K ${k}, overwritten and accumulated, split or not`, () => {
        const pad = 3 // extra floats per row: strides wider than the rows
        const lda = (transA ? m : k) + pad
        const aRows = transA ? k : m
        const a = seededValues(aRows * lda, 1)
        const b = seededValues(k * (n + pad), 2)
        const c0 = seededValues(m * (n + 4), 3)
        const want = new Float64Array(m * n)
        const scale = new Float64Array(m * n)
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0
            let abs = 0
            for (let l = 0; l < k; l++) {
              const p = (transA ? (a[l * lda + i] as number) : (a[i * lda + l] as number)) * (b[l * (n + pad) + j] as number)
              s += p
              abs += Math.abs(p)
            }
            want[i * n + j] = s
            scale[i * n + j] = abs
          }
        }
        for (const accumulate of [false, true]) {
          for (const parts of [1, 3]) {
            tf.tidy(() => {
              const A = onHeap(a)
              const B = onHeap(b)
              const C = onHeap(c0)
              const calls = gemmCalls(transA, [{ a: A.at, lda: lda * 4, b: B.at, ldb: (n + pad) * 4, c: C.at, ldc: (n + 4) * 4, m, n, k, accumulate }], parts)
              // A small K chunk, so that chunks follow one another even for short K.
              for (const call of calls) call.args[9] = Math.min(call.args[9] as number, 16)
              runGemm(backend, loops, calls)
              const all = read(C.at, m * (n + 4))
              const got = new Float32Array(m * n)
              const wantHere = new Float64Array(m * n)
              for (let i = 0; i < m; i++) {
                for (let j = 0; j < n + 4; j++) {
                  const v = all[i * (n + 4) + j] as number
                  // Columns past N stay as they were.
                  if (j >= n) expect(v).toBe(c0[i * (n + 4) + j])
                  else {
                    got[i * n + j] = v
                    wantHere[i * n + j] = (want[i * n + j] as number) + (accumulate ? (c0[i * (n + 4) + j] as number) : 0)
                  }
                }
              }
              expectClose(got, wantHere, scale.map((s, i) => s + (accumulate ? Math.abs(c0[Math.floor(i / n) * (n + 4) + (i % n)] as number) : 0)))
            })
          }
        }
      })
    }
  }

  it('taps: every tap of a filter gradient over shifted views in one pass, K chunks shared by the taps', () => {
    // ci rows of length L + maxShift (channels-first frames), dy [L, co]; tap (i, j) reads A shifted by i·fw + j.
    for (const [ci, co, L, kh, kw, fw] of [
      [6, 12, 200, 3, 3, 10],
      [1, 4, 50, 2, 3, 7],
      [8, 16, 130, 1, 1, 13],
    ] as Array<[number, number, number, number, number, number]>) {
      const maxShift = (kh - 1) * fw + (kw - 1)
      const lda = L + maxShift + 2
      const a = seededValues(ci * lda, 4)
      const b = seededValues(L * co, 5)
      tf.tidy(() => {
        const A = onHeap(a)
        const B = onHeap(b)
        const C = onHeap(new Float32Array(kh * kw * ci * co).fill(7))
        const kc = 16
        const calls = gemmCalls(false, [{ a: A.at, lda: lda * 4, b: B.at, ldb: co * 4, c: C.at, ldc: co * 4, m: ci, n: co, k: L }], 2).map(({ name, args }) => ({
          name: `${name}Taps`,
          args: [...args.slice(0, 9), kc, kh, kw, fw, ci * co * 4],
        }))
        runGemm(backend, loops, calls)
        const got = read(C.at, kh * kw * ci * co)
        const want = new Float64Array(got.length)
        const scale = new Float64Array(got.length)
        for (let t = 0; t < kh * kw; t++) {
          const shift = Math.floor(t / kw) * fw + (t % kw)
          for (let i = 0; i < ci; i++) {
            for (let j = 0; j < co; j++) {
              let s = 0
              let abs = 0
              for (let l = 0; l < L; l++) {
                const p = (a[i * lda + l + shift] as number) * (b[l * co + j] as number)
                s += p
                abs += Math.abs(p)
              }
              want[(t * ci + i) * co + j] = s
              scale[(t * ci + i) * co + j] = abs
            }
          }
        }
        expectClose(got, want, scale)
      })
    }
  })

  it('runs 1 × 1 stride-1 convolutions (Conv2D) as one product, as the cpu backend does, and leaves the rest to the stock kernel', () => {
    for (const [shape, co, stride, ours] of [
      [[3, 5, 7, 6], 12, 1, true],
      [[1, 8, 8, 32], 20, 1, true],
      [[2, 4, 4, 1], 4, 1, true],
      [[2, 4, 4, 8], 6, 1, false], // output channels not divisible by 4
      [[2, 6, 6, 8], 8, 2, false], // stride 2
    ] as Array<[[number, number, number, number], number, number, boolean]>) {
      const go = (name: 'cpu' | 'wasm') => {
        tf.setBackend(name)
        return tf.tidy(() => {
          const x = tf.tensor4d(seededValues(shape.reduce((a, b) => a * b, 1), 6), shape)
          const f = tf.tensor4d(seededValues(shape[3] * co, 7), [1, 1, shape[3], co])
          return tf.conv2d(x, f, stride, 'same').dataSync() as Float32Array
        })
      }
      const want = go('cpu')
      const runs = gemmTuning.runs
      const got = go('wasm')
      expect(gemmTuning.runs > runs).toBe(ours)
      expect(got.length).toBe(want.length)
      for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-5)
    }
    tf.setBackend('wasm')
  })

  it('computes the filter gradient of a 1 × 1 convolution with one output channel as one tn product', () => {
    const go = (name: 'cpu' | 'wasm') => {
      tf.setBackend(name)
      return tf.tidy(() => {
        const x = tf.tensor4d(seededValues(3 * 9 * 5 * 8, 8), [3, 9, 5, 8])
        const dy = tf.tensor4d(seededValues(3 * 9 * 5, 9), [3, 9, 5, 1])
        return tf.grads((f: tf.Tensor) => tf.conv2d(x, f as tf.Tensor4D, 1, 'valid'))([tf.zeros([1, 1, 8, 1])], dy)[0]!.dataSync() as Float32Array
      })
    }
    const want = go('cpu')
    const runs = gemmTuning.runs
    const got = go('wasm')
    expect(gemmTuning.runs).toBeGreaterThan(runs)
    for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-5)
    tf.setBackend('wasm')
  })

  it('splits a product into calls that cover C once: row runs, then column groups for few rows', () => {
    const cover = (m: number, n: number, parts: number) => {
      const seen = new Int32Array(m * n)
      for (const { name, args } of gemmCalls(false, [{ a: 0, lda: 4 * 100, b: 0, ldb: 4 * n, c: 0, ldc: 4 * n, m, n, k: 9 }], parts)) {
        const rows = (name === 'nn' ? GEMM_MR : Number(name.slice(2))) * (args[6] as number)
        const row0 = Math.floor((args[4] as number) / (4 * n))
        const col0 = ((args[4] as number) / 4) % n
        for (let i = 0; i < rows; i++) for (let j = 0; j < (args[7] as number); j++) seen[(row0 + i) * n + col0 + j]!++
      }
      return seen.every((v) => v === 1)
    }
    for (const [m, n, parts] of [[16, 16, 2], [4, 32, 2], [3, 12, 2], [37, 20, 3], [8, 4, 5]] as Array<[number, number, number]>) {
      expect(cover(m, n, parts)).toBe(true)
    }
  })
})
