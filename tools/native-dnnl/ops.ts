/**
 * Correctness and per-op timing of the oneDNN addon against tfjs.
 *
 *   cd tools/bench && pnpm exec tsx ../native-dnnl/ops.ts check
 *   cd tools/bench && OMP_NUM_THREADS=1 pnpm exec tsx ../native-dnnl/ops.ts bench [--reps 5] [--native-only]
 *
 * check: each op on a few shapes against the cpu backend and the wasm backend (with @unet/runtime's training
 * kernels), max abs diff. bench: every convolution geometry of the depth-4 / 16-filter U-Net at batch 8,
 * 128×128×1, each of the three ops: minimum wall and CPU ms over the repetitions, native vs wasm (1 thread);
 * and the per-step sums (forward of every conv, input gradient of all but the first, filter gradient of all).
 */
import { createRequire } from 'node:module'

import { nativeGeometry as geometry } from '../../packages/runtime/src/native/index'
import { loadNativeConv, nativeConvReason } from '../../packages/runtime-native/src/index'
import { registerWasmTrainingKernels } from '../../packages/runtime/src/index'

// tfjs resolves from tools/bench (this folder is no workspace package and has no node_modules).
const requireFromBench = createRequire(new URL('../bench/unet-step.ts', import.meta.url))
const loaded = loadNativeConv()
if (loaded === null) throw new Error(`@unet/runtime-native: ${nativeConvReason()}`)
const addon = loaded
type Tf = typeof import('@tensorflow/tfjs-core')
type Tensor = import('@tensorflow/tfjs-core').Tensor
const tf = requireFromBench('@tensorflow/tfjs-core') as Tf
requireFromBench('@tensorflow/tfjs-backend-cpu')
requireFromBench('@tensorflow/tfjs-layers') // gradients, as in a real step
const wasmBackend = requireFromBench('@tensorflow/tfjs-backend-wasm') as { setThreadsCount(n: number): void }

const mode = process.argv[2] ?? 'check'
const repsArg = process.argv.indexOf('--reps')
const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 5
const nativeOnly = process.argv.includes('--native-only')

interface Case { n: number; h: number; w: number; ci: number; co: number; k: number; s: number; pad: 'same' | 'valid'; what: string }

/** Runs op on backend through the engine (the same kernels a training step calls). */
function tfOp(op: 0 | 1 | 2, c: Case, x: Float32Array, w: Float32Array, dy: Float32Array, oh: number, ow: number): Float32Array {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [c.n, c.h, c.w, c.ci])
    const wt = tf.tensor4d(w, [c.k, c.k, c.ci, c.co])
    const dyt = tf.tensor4d(dy, [c.n, oh, ow, c.co])
    if (op === 0) return tf.conv2d(xt, wt, c.s, c.pad).dataSync() as Float32Array
    if (op === 1) return (tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt, filter: wt }, { strides: [c.s, c.s], pad: c.pad, dataFormat: 'NHWC', inputShape: [c.n, c.h, c.w, c.ci] } as never) as Tensor).dataSync() as Float32Array
    return (tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, { strides: [c.s, c.s], pad: c.pad, dataFormat: 'NHWC', filterShape: [c.k, c.k, c.ci, c.co] } as never) as Tensor).dataSync() as Float32Array
  })
}

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n)
  let s = seed
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0
    a[i] = (s / 2 ** 32) * 2 - 1
  }
  return a
}

function arrays(c: Case) {
  const g = geometry([c.n, c.h, c.w, c.ci], [c.k, c.k, c.ci, c.co], c.s, c.pad)
  const [oh, ow] = [g[4]!, g[5]!]
  return { g, oh, ow, x: rand(c.n * c.h * c.w * c.ci, 1), w: rand(c.k * c.k * c.ci * c.co, 2), dy: rand(c.n * oh * ow * c.co, 3) }
}

function nativeOp(op: 0 | 1 | 2, c: Case, a: ReturnType<typeof arrays>): Float32Array {
  const out = new Float32Array(op === 0 ? a.dy.length : op === 1 ? a.x.length : a.w.length)
  if (op === 0) addon.conv(0, a.x, a.w, out, a.g)
  else if (op === 1) addon.conv(1, a.dy, a.w, out, a.g)
  else addon.conv(2, a.x, a.dy, out, a.g)
  return out
}

const OPS = ['forward', 'backward-data', 'backward-weights'] as const

async function check(): Promise<void> {
  registerWasmTrainingKernels()
  const cases: Case[] = [
    { n: 2, h: 9, w: 7, ci: 3, co: 5, k: 3, s: 1, pad: 'same', what: '3×3 s1 same, odd' },
    { n: 2, h: 16, w: 16, ci: 16, co: 32, k: 3, s: 1, pad: 'same', what: '3×3 s1 same' },
    { n: 2, h: 16, w: 16, ci: 32, co: 16, k: 2, s: 2, pad: 'same', what: '2×2 s2 (transposed-conv geometry)' },
    { n: 1, h: 11, w: 13, ci: 4, co: 8, k: 3, s: 2, pad: 'same', what: '3×3 s2 same, odd' },
    { n: 2, h: 10, w: 10, ci: 6, co: 4, k: 3, s: 1, pad: 'valid', what: '3×3 s1 valid' },
    { n: 2, h: 32, w: 32, ci: 16, co: 1, k: 1, s: 1, pad: 'same', what: '1×1 head' },
  ]
  for (const c of cases) {
    const a = arrays(c)
    for (const op of [0, 1, 2] as const) {
      const nat = nativeOp(op, c, a)
      const diffs: string[] = []
      for (const be of ['cpu', 'wasm']) {
        await tf.setBackend(be)
        const ref = tfOp(op, c, a.x, a.w, a.dy, a.oh, a.ow)
        let d = 0, m = 0
        for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(ref[i]! - nat[i]!)); m = Math.max(m, Math.abs(ref[i]!)) }
        diffs.push(`${be} max|diff| ${d.toExponential(2)} (max|ref| ${m.toFixed(2)})`)
      }
      console.log(`${c.what.padEnd(34)} [${c.n},${c.h},${c.w},${c.ci}]→${c.co} ${OPS[op].padEnd(16)} ${diffs.join('  ')}  ${addon.implementation(op, a.g)}`)
    }
  }
}

/** The U-Net's convolution geometries, as forward convs (a transposed conv is the backward-data op of one). */
function unetCases(): Array<Case & { transposed: boolean; first: boolean }> {
  const N = 8, S = 128, F = 16, D = 4
  const out: Array<Case & { transposed: boolean; first: boolean }> = []
  const conv = (s: number, ci: number, co: number, what: string, first = false) =>
    out.push({ n: N, h: s, w: s, ci, co, k: 3, s: 1, pad: 'same', what, transposed: false, first })
  for (let l = 0; l <= D; l++) {
    const s = S >> l, c = F << l, ci = l === 0 ? 1 : F << (l - 1)
    conv(s, ci, c, `enc${l} conv1`, l === 0)
    conv(s, c, c, `enc${l} conv2`)
  }
  for (let l = D - 1; l >= 0; l--) {
    const s = S >> l, c = F << l
    // conv2dTranspose 2×2 s2 from (s/2, 2c) to (s, c): the forward conv it is the transpose of maps (s, c) → (s/2, 2c)
    out.push({ n: N, h: s, w: s, ci: c, co: 2 * c, k: 2, s: 2, pad: 'same', what: `dec${l} up`, transposed: true, first: false })
    conv(s, 2 * c, c, `dec${l} conv1`)
    conv(s, c, c, `dec${l} conv2`)
  }
  out.push({ n: N, h: S, w: S, ci: F, co: 1, k: 1, s: 1, pad: 'same', what: 'head 1×1', transposed: false, first: false })
  return out
}

function timeMin(fn: () => void): { wall: number; cpu: number } {
  fn()
  let wall = Infinity, cpu = Infinity
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    fn()
    wall = Math.min(wall, performance.now() - t0)
    const u = process.cpuUsage(c0)
    cpu = Math.min(cpu, (u.user + u.system) / 1000)
  }
  return { wall, cpu }
}

async function bench(): Promise<void> {
  if (!nativeOnly) {
    registerWasmTrainingKernels()
    wasmBackend.setThreadsCount(1)
    await tf.setBackend('wasm')
  }
  const threads = process.env.OMP_NUM_THREADS ?? '(OpenMP default)'
  console.log(`native threads: ${threads}; wasm: 1 thread; ${reps} reps, min ms (wall / CPU)`)
  const sums = { native: [0, 0, 0], nativeCpu: [0, 0, 0], wasm: [0, 0, 0], wasmCpu: [0, 0, 0] }
  let flops = 0
  for (const c of unetCases()) {
    const a = arrays(c)
    const cells: string[] = []
    for (const op of [0, 1, 2] as const) {
      // The step skips the input gradient of the first conv (its input is the image).
      const used = !(op === 1 && c.first)
      const n = timeMin(() => nativeOp(op, c, a))
      let cell = `${OPS[op]} nat ${n.wall.toFixed(1)}/${n.cpu.toFixed(1)}`
      if (used) { sums.native[op]! += n.wall; sums.nativeCpu[op]! += n.cpu; flops += 2 * a.dy.length * c.k * c.k * c.ci }
      if (!nativeOnly) {
        const xt = tf.tensor4d(a.x, [c.n, c.h, c.w, c.ci]), wt = tf.tensor4d(a.w, [c.k, c.k, c.ci, c.co]), dyt = tf.tensor4d(a.dy, [c.n, a.oh, a.ow, c.co])
        const attrs = { strides: [c.s, c.s], pad: c.pad, dataFormat: 'NHWC', dilations: [1, 1], inputShape: [c.n, c.h, c.w, c.ci], filterShape: [c.k, c.k, c.ci, c.co], activation: 'linear' }
        // FusedConv2D is what tfjs-layers' conv2d calls for a no-bias, linear conv (the U-Net's).
        const run = () => {
          const r = op === 0 ? tf.engine().runKernel('FusedConv2D', { x: xt, filter: wt }, attrs as never)
            : op === 1 ? tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt, filter: wt }, attrs as never)
            : tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, attrs as never)
          ;(r as Tensor).dispose()
        }
        const w = timeMin(run)
        tf.dispose([xt, wt, dyt])
        cell += ` wasm ${w.wall.toFixed(1)}/${w.cpu.toFixed(1)}`
        if (used) { sums.wasm[op]! += w.wall; sums.wasmCpu[op]! += w.cpu }
      }
      cells.push(cell)
    }
    console.log(`${c.what.padEnd(11)} [8,${c.h},${c.w},${c.ci}]→${c.co} k${c.k}s${c.s}  ${cells.join(' | ')}`)
  }
  const total = (x: number[]) => x.reduce((p, q) => p + q, 0)
  console.log('\nper training step (every conv once per op; no input gradient for the first conv), ms wall / CPU:')
  for (const op of [0, 1, 2]) {
    console.log(`  ${OPS[op]!.padEnd(16)} native ${sums.native[op]!.toFixed(0)} / ${sums.nativeCpu[op]!.toFixed(0)}` +
      (nativeOnly ? '' : `   wasm ${sums.wasm[op]!.toFixed(0)} / ${sums.wasmCpu[op]!.toFixed(0)}`))
  }
  console.log(`  all three          native ${total(sums.native).toFixed(0)} / ${total(sums.nativeCpu).toFixed(0)}` +
    (nativeOnly ? '' : `   wasm ${total(sums.wasm).toFixed(0)} / ${total(sums.wasmCpu).toFixed(0)}`))
  console.log(`  ${(flops / 1e9).toFixed(1)} GFLOP; native ${(flops / total(sums.native) / 1e6).toFixed(1)} GFLOP/s wall, ${(flops / total(sums.nativeCpu) / 1e6).toFixed(1)} per CPU-second`)
  console.log(`  prediction (forward only): native ${sums.native[0]!.toFixed(0)} / ${sums.nativeCpu[0]!.toFixed(0)}` + (nativeOnly ? '' : `   wasm ${sums.wasm[0]!.toFixed(0)} / ${sums.wasmCpu[0]!.toFixed(0)}`))
}

await (mode === 'bench' ? bench() : check())
process.exit(0)
