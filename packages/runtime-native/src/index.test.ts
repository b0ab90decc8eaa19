import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, vi } from 'vitest'

import { loadNativeConv, nativeConvReason, preferPassiveOpenMp } from './index'

const addon = loadNativeConv()
if (addon === null) console.warn(`[@unet/runtime-native tests] addon tests skipped: ${nativeConvReason()}`)

/**
 * Visits every (output element, filter tap) pair of a convolution of geometry `g` whose input pixel lies inside x:
 * `xAt` is the input pixel's offset (channel 0), `wAt` the tap's filter offset (input channel 0, output channel
 * `o`; input channels `co` apart), `yAt` the output element's offset.
 */
function eachTap(g: number[], visit: (xAt: number, wAt: number, yAt: number) => void): void {
  const [n, h, wd, ci, oh, ow, co, kh, kw, sh, sw, pt, pl] = g as [number, number, number, number, number, number, number, number, number, number, number, number, number]
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let o = 0; o < co; o++)
          for (let p = 0; p < kh; p++)
            for (let q = 0; q < kw; q++) {
              const r = i * sh + p - pt
              const c = j * sw + q - pl
              if (r >= 0 && r < h && c >= 0 && c < wd) visit(((b * h + r) * wd + c) * ci, (p * kw + q) * ci * co + o, ((b * oh + i) * ow + j) * co + o)
            }
}

/** Plain NHWC / HWIO convolution, the reference for the three ops (sums in double). */
function reference(x: Float32Array, w: Float32Array, g: number[]): Float32Array {
  const [n, , , ci, oh, ow, co] = g as [number, number, number, number, number, number, number]
  const y = new Float64Array(n * oh * ow * co)
  eachTap(g, (xAt, wAt, yAt) => {
    for (let k = 0; k < ci; k++) y[yAt]! += x[xAt + k]! * w[wAt + k * co]!
  })
  return Float32Array.from(y)
}

/** The input gradient of {@link reference}: each dy spread back over the inputs its window read. */
function referenceInputGradient(dy: Float32Array, w: Float32Array, g: number[]): Float32Array {
  const [n, h, wd, ci, , , co] = g as [number, number, number, number, number, number, number]
  const dx = new Float64Array(n * h * wd * ci)
  eachTap(g, (xAt, wAt, yAt) => {
    for (let k = 0; k < ci; k++) dx[xAt + k]! += dy[yAt]! * w[wAt + k * co]!
  })
  return Float32Array.from(dx)
}

function random(length: number, seed: number): Float32Array {
  const a = new Float32Array(length)
  let s = seed
  for (let i = 0; i < length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648
    a[i] = s / 2147483648 - 0.5
  }
  return a
}

// 2 × 7 × 9 × 3 → 2 × 4 × 5 × 4, 3 × 3, stride 2, 'same' (tfjs pads 1 top, 1 bottom; 1 left, 1 right).
const geometry = [2, 7, 9, 3, 4, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1]

describe.skipIf(addon === null)('the oneDNN addon', () => {
  it('computes a strided, padded convolution on ordinary and SharedArrayBuffer-backed arrays', () => {
    const x = random(2 * 7 * 9 * 3, 1)
    const w = random(3 * 3 * 3 * 4, 2)
    const want = reference(x, w, geometry)
    const y = new Float32Array(want.length)
    addon!.conv(0, x, w, y, geometry)
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(want[i]!, 5)

    // The threaded wasm build keeps tensors in a SharedArrayBuffer: views into one, at an offset.
    const heap = new SharedArrayBuffer(4 * (16 + x.length + w.length + y.length))
    const xs = new Float32Array(heap, 64, x.length)
    const ws = new Float32Array(heap, 64 + 4 * x.length, w.length)
    const ys = new Float32Array(heap, 64 + 4 * (x.length + w.length), y.length)
    xs.set(x)
    ws.set(w)
    addon!.conv(0, xs, ws, ys, geometry)
    expect(Array.from(ys)).toEqual(Array.from(y))
  })

  it('gives gradients that match the forward convolution (⟨dy, conv(x, w)⟩ = ⟨dx, x⟩ = ⟨dw, w⟩)', () => {
    const x = random(2 * 7 * 9 * 3, 3)
    const w = random(3 * 3 * 3 * 4, 4)
    const dy = random(2 * 4 * 5 * 4, 5)
    const dx = new Float32Array(x.length)
    const dw = new Float32Array(w.length)
    addon!.conv(1, dy, w, dx, geometry)
    addon!.conv(2, x, dy, dw, geometry)
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0)
    const forward = dot(dy, reference(x, w, geometry))
    expect(dot(dx, x)).toBeCloseTo(forward, 3)
    expect(dot(dw, w)).toBeCloseTo(forward, 3)
  })

  it('gives the input gradient of stride-1 convolutions (run as a forward convolution of the turned filter)', () => {
    // 'same' 3 × 3; a 3 × 2 filter padded unevenly; 'valid'; uneven padding top and left only; 1 × 1; 5 × 5.
    const geometries = [
      [2, 7, 9, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1],
      [2, 7, 9, 3, 7, 9, 4, 3, 2, 1, 1, 1, 0, 1, 1],
      [2, 7, 9, 3, 5, 7, 4, 3, 3, 1, 1, 0, 0, 0, 0],
      [1, 7, 9, 5, 7, 8, 6, 3, 3, 1, 1, 2, 1, 0, 0],
      [2, 4, 5, 6, 4, 5, 3, 1, 1, 1, 1, 0, 0, 0, 0],
      [1, 8, 8, 17, 8, 8, 16, 5, 5, 1, 1, 2, 2, 2, 2],
    ]
    for (const [i, g] of geometries.entries()) {
      const w = random(g[7]! * g[8]! * g[3]! * g[6]!, 30 + i)
      const dy = random(g[0]! * g[4]! * g[5]! * g[6]!, 40 + i)
      const want = referenceInputGradient(dy, w, g)
      const dx = new Float32Array(want.length)
      addon!.conv(1, dy, w, dx, g)
      for (let k = 0; k < dx.length; k++) expect(dx[k], `dx[${k}] of ${g.join(',')}`).toBeCloseTo(want[k]!, 5)
      expect(addon!.implementation(1, g)).toContain('backward data as a forward convolution')
    }
    // Strided: oneDNN's own backward-data kernel.
    expect(addon!.implementation(1, geometry)).not.toContain('as a forward convolution')
    const dy = random(2 * 4 * 5 * 4, 50)
    const w = random(3 * 3 * 3 * 4, 51)
    const dx = new Float32Array(2 * 7 * 9 * 3)
    addon!.conv(1, dy, w, dx, geometry)
    const want = referenceInputGradient(dy, w, geometry)
    for (let k = 0; k < dx.length; k++) expect(dx[k]).toBeCloseTo(want[k]!, 5)
  })

  it('adds a bias and applies a ReLU in the forward pass (FusedConv2D), alone or together', () => {
    const x = random(2 * 7 * 9 * 3, 6)
    const w = random(3 * 3 * 3 * 4, 7)
    const bias = Float32Array.from([0.3, -0.2, 0.05, -0.4])
    const plain = reference(x, w, geometry)
    for (const [withBias, relu] of [[true, false], [false, true], [true, true]] as const) {
      const y = new Float32Array(plain.length)
      addon!.conv(0, x, w, y, geometry, withBias ? bias : null, relu)
      for (let i = 0; i < y.length; i++) {
        const sum = plain[i]! + (withBias ? bias[i % 4]! : 0)
        expect(y[i]).toBeCloseTo(relu ? Math.max(0, sum) : sum, 5)
      }
    }
    const y = new Float32Array(plain.length)
    expect(() => addon!.conv(0, x, w, y, geometry, bias.subarray(0, 3), true)).toThrow(/bias is shorter/)
    expect(() => addon!.conv(1, random(y.length, 8), w, new Float32Array(x.length), geometry, bias, false)).toThrow(/forward\) only/)
  })

  it('normalizes a batch in training mode and gives its gradients (x through the statistics, scale, shift)', () => {
    // Odd sizes and a channel count that is no multiple of oneDNN's vector width.
    for (const shape of [[2, 3, 5, 7], [3, 4, 5, 16], [1, 1, 9, 33]] as const) {
      const [n, h, w, c] = shape
      const m = n * h * w
      const eps = 1e-3
      const x = random(m * c, 11).map((v, i) => 3 * v + (i % c) * 0.25)
      const scale = random(c, 12).map((v) => v + 1)
      const shift = random(c, 13)
      const y = new Float32Array(m * c)
      const mean = new Float32Array(c)
      const variance = new Float32Array(c)
      addon!.batchNormForward(x, scale, shift, y, mean, variance, shape, eps)
      const dy = random(m * c, 14)
      const dx = new Float32Array(m * c)
      const dscale = new Float32Array(c)
      const dshift = new Float32Array(c)
      addon!.batchNormBackward(x, dy, mean, variance, scale, dx, dscale, dshift, shape, eps)
      for (let k = 0; k < c; k++) {
        let mu = 0
        for (let i = 0; i < m; i++) mu += x[i * c + k]! / m
        let v = 0
        for (let i = 0; i < m; i++) v += (x[i * c + k]! - mu) ** 2 / m
        expect(mean[k]).toBeCloseTo(mu, 5)
        expect(variance[k]).toBeCloseTo(v, 5)
        const r = 1 / Math.sqrt(v + eps)
        let sumDy = 0
        let sumDyXhat = 0
        for (let i = 0; i < m; i++) {
          const xhat = (x[i * c + k]! - mu) * r
          expect(y[i * c + k]).toBeCloseTo(scale[k]! * xhat + shift[k]!, 5)
          sumDy += dy[i * c + k]!
          sumDyXhat += dy[i * c + k]! * xhat
        }
        expect(dshift[k]).toBeCloseTo(sumDy, 5)
        expect(dscale[k]).toBeCloseTo(sumDyXhat, 5)
        for (let i = 0; i < m; i++) {
          const xhat = (x[i * c + k]! - mu) * r
          expect(dx[i * c + k]).toBeCloseTo(scale[k]! * r * (dy[i * c + k]! - sumDy / m - (xhat * sumDyXhat) / m), 4)
        }
      }
    }
    const small = new Float32Array(4)
    expect(() => addon!.batchNormForward(small, small, small, small, small, small, [1, 2, 2, 2], 1e-3)).toThrow(/as large as the shape/)
    expect(() => addon!.batchNormForward(small, small, small, small, small, small, [1, 1, 1, 4], 0)).toThrow(/epsilon > 0/)
  })

  it('fuses a ReLU after the batch norm: the output of relu(batchNormForward), the gradient through both', () => {
    for (const shape of [[2, 3, 5, 7], [3, 4, 5, 16], [1, 1, 9, 33]] as const) {
      const [n, h, w, c] = shape
      const size = n * h * w * c
      const eps = 1e-3
      const x = random(size, 21).map((v, i) => 3 * v + (i % c) * 0.25)
      const scale = random(c, 22).map((v) => v + 1)
      const shift = random(c, 23)
      const dy = random(size, 24)
      const plain = { y: new Float32Array(size), mean: new Float32Array(c), variance: new Float32Array(c), dx: new Float32Array(size), dscale: new Float32Array(c), dshift: new Float32Array(c) }
      addon!.batchNormForward(x, scale, shift, plain.y, plain.mean, plain.variance, shape, eps)
      const relu = plain.y.map((v) => Math.max(0, v))
      const masked = dy.map((d, i) => (plain.y[i]! > 0 ? d : 0))
      addon!.batchNormBackward(x, masked, plain.mean, plain.variance, scale, plain.dx, plain.dscale, plain.dshift, shape, eps)
      const workspace = new Float32Array(addon!.batchNormReluWorkspace(shape, eps))
      // One bit per element at the least (oneDNN may pad it).
      expect(workspace.length * 32).toBeGreaterThanOrEqual(size)
      const fused = { y: new Float32Array(size), mean: new Float32Array(c), variance: new Float32Array(c), dx: new Float32Array(size), dscale: new Float32Array(c), dshift: new Float32Array(c) }
      addon!.batchNormForward(x, scale, shift, fused.y, fused.mean, fused.variance, shape, eps, workspace)
      addon!.batchNormBackward(x, dy, fused.mean, fused.variance, scale, fused.dx, fused.dscale, fused.dshift, shape, eps, workspace)
      expect(relu.some((v) => v === 0) && relu.some((v) => v > 0)).toBe(true)
      expect(Array.from(fused.y)).toEqual(Array.from(relu))
      for (const k of ['mean', 'variance', 'dx', 'dscale', 'dshift'] as const) {
        for (let i = 0; i < plain[k].length; i++) expect(fused[k][i], `${k}[${i}] of ${shape.join('×')}`).toBeCloseTo(plain[k][i]!, 5)
      }
    }
    const small = new Float32Array(4)
    expect(() => addon!.batchNormForward(small, small, small, small, small, small, [1, 1, 1, 4], 1e-3, new Float32Array(0))).toThrow(/batchNormReluWorkspace/)
    expect(() => addon!.batchNormReluWorkspace([1, 0, 1, 4], 1e-3)).toThrow(/positive integers/)
  })

  it('runs ReLU and its gradient as tfjs’s wasm kernels do, NaN and −0 included', () => {
    const x = Float32Array.from([-2, -0, 0, 1.5, NaN, Infinity, -Infinity, 1e-45, -1e-45, 7, -7, 0.25, -0.5, 3, -3, 2, 9])
    const dy = Float32Array.from(x, (_, i) => i - 8)
    const y = new Float32Array(x.length)
    const dx = new Float32Array(x.length)
    addon!.relu(x, y)
    addon!.reluGrad(dy, x, dx)
    const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer))
    expect(bits(y)).toEqual(bits(Array.from(x, (v) => (v <= 0 ? 0 : v))))
    expect(bits(dx)).toEqual(bits(Array.from(x, (v, i) => (v > 0 ? dy[i]! : 0))))
    expect(() => addon!.relu(x.subarray(1), y)).toThrow(/at least as long/)
  })

  it('adds a per-channel bias and sums per channel over channels-last rows', () => {
    for (const channels of [1, 3, 16, 19]) {
      const rows = 37
      const x = random(rows * channels, channels)
      const bias = random(channels, 50 + channels)
      const y = new Float32Array(x.length)
      addon!.biasAdd(x, bias, y)
      expect(Array.from(y)).toEqual(Array.from(x, (v, i) => Math.fround(v + bias[i % channels]!)))
      const sums = new Float32Array(channels)
      addon!.channelSums(x, sums)
      for (let c = 0; c < channels; c++) {
        let s = 0
        for (let r = 0; r < rows; r++) s += x[r * channels + c]!
        expect(sums[c]).toBeCloseTo(s, 5)
      }
    }
    expect(() => addon!.biasAdd(new Float32Array(5), new Float32Array(2), new Float32Array(5))).toThrow(/multiple of bias/)
    expect(() => addon!.channelSums(new Float32Array(5), new Float32Array(2))).toThrow(/multiple of out/)
  })

  it('names its kernel, sets its threads, and rejects bad arguments', () => {
    expect(addon!.implementation(0, geometry)).toMatch(/\w/)
    const before = addon!.threads()
    addon!.setThreads(1)
    expect(addon!.threads()).toBe(1)
    addon!.setThreads(before)
    expect(() => addon!.conv(0, new Float32Array(4), new Float32Array(4), new Float32Array(4), geometry)).toThrow(/smaller than the geometry/)
    expect(() => addon!.conv(0, new Float64Array(4) as never, new Float32Array(4), new Float32Array(4), geometry)).toThrow(/Float32Arrays/)
    expect(() => addon!.conv(3 as never, new Float32Array(4), new Float32Array(4), new Float32Array(4), geometry)).toThrow(/op must be/)
  })
})

describe('OpenMP wait policy', () => {
  it('is passive unless the user chose one, and was set before the addon loaded', () => {
    const unset: Record<string, string | undefined> = {}
    preferPassiveOpenMp(unset)
    expect(unset.OMP_WAIT_POLICY).toBe('PASSIVE')
    const chosen: Record<string, string | undefined> = { OMP_WAIT_POLICY: 'ACTIVE' }
    preferPassiveOpenMp(chosen)
    expect(chosen.OMP_WAIT_POLICY).toBe('ACTIVE')
    if (addon !== null) expect(process.env.OMP_WAIT_POLICY).toMatch(/^(PASSIVE|ACTIVE|passive|active)$/)
  })
})

describe('without the addon', () => {
  it('loadNativeConv returns null and says how to build it', async () => {
    vi.resetModules()
    vi.doMock('node:fs', async (original) => ({ ...(await original<typeof import('node:fs')>()), existsSync: () => false }))
    try {
      const fresh = await import('./index')
      expect(fresh.loadNativeConv()).toBeNull()
      expect(fresh.nativeConvReason()).toMatch(/not built .*libdnnl-dev.*pnpm rebuild @unet\/runtime-native/)
    } finally {
      vi.doUnmock('node:fs')
      vi.resetModules()
    }
  })

  it('the install script exits 0 with one line when oneDNN is missing or the build is turned off', () => {
    const script = fileURLToPath(new URL('../scripts/install.mjs', import.meta.url))
    for (const env of [{ UNET_DNNL_INCLUDE: '/nonexistent' }, { UNET_NATIVE_SKIP_BUILD: '1' }, { UNET_NATIVE: '0' }]) {
      const r = spawnSync(process.execPath, [script, '--force'], { encoding: 'utf8', env: { ...process.env, ...env } })
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout.trim().split('\n')).toHaveLength(1)
      expect(r.stdout).toMatch(/^@unet\/runtime-native: native accelerator off — /)
    }
    const strict = spawnSync(process.execPath, [script, '--force', '--strict'], {
      encoding: 'utf8',
      env: { ...process.env, UNET_DNNL_INCLUDE: '/nonexistent' },
    })
    expect(strict.status).toBe(1)
    expect(strict.stdout).toContain('no dnnl.hpp in UNET_DNNL_INCLUDE=/nonexistent')
  })
})
