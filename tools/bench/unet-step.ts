/**
 * U-Net training-step benchmark: seconds per training step and per prediction batch on each tfjs backend
 * present, the same for PyTorch (tools/bench/unet_step.py) when python3-torch is installed, the step's FLOPs
 * and the share of the machine's peak. Prints figures, asserts nothing.
 *
 *   cd tools/bench && pnpm exec tsx unet-step.ts [--steps 5] [--threads 1] [--cpu-timeout 60] [--no-torch] [--profile]
 *
 * The model is the one the seeds train: depth 4, 16 base filters ×2 per level, two 3×3 conv + batch norm +
 * ReLU per level, 2×2 max-pool, 2×2 stride-2 transposed-conv up-sampling, 1×1 sigmoid head; 128×128×1 input,
 * batch 8, Adam, binary cross-entropy. It mirrors @unet/layers' createUnet defaults.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'

import { registerWasmTrainingKernels } from '../../packages/runtime/src/kernels/index'

const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string', default: '5' },
    threads: { type: 'string' },
    'cpu-timeout': { type: 'string', default: '60' },
    'no-torch': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
})

const BATCH = 8
const SIZE = 128
const DEPTH = 4
const FILTERS = 16
const steps = Number(opts.steps)

function buildUnet(): tfl.LayersModel {
  const input = tfl.input({ shape: [SIZE, SIZE, 1] })
  const convBlock = (x: tfl.SymbolicTensor, filters: number): tfl.SymbolicTensor => {
    for (let i = 0; i < 2; i++) {
      x = tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }).apply(x) as tfl.SymbolicTensor
      x = tfl.layers.batchNormalization({ momentum: 0.99 }).apply(x) as tfl.SymbolicTensor
      x = tfl.layers.activation({ activation: 'relu' }).apply(x) as tfl.SymbolicTensor
    }
    return x
  }
  const skips: tfl.SymbolicTensor[] = []
  let x: tfl.SymbolicTensor = input
  for (let level = 0; level < DEPTH; level++) {
    x = convBlock(x, FILTERS << level)
    skips.push(x)
    x = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as tfl.SymbolicTensor
  }
  x = convBlock(x, FILTERS << DEPTH)
  for (let level = DEPTH - 1; level >= 0; level--) {
    x = tfl.layers.conv2dTranspose({ filters: FILTERS << level, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: 'heNormal' }).apply(x) as tfl.SymbolicTensor
    x = tfl.layers.concatenate({ axis: -1 }).apply([x, skips[level]!]) as tfl.SymbolicTensor
    x = convBlock(x, FILTERS << level)
  }
  const output = tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid' }).apply(x) as tfl.SymbolicTensor
  const model = tfl.model({ inputs: input, outputs: output })
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' })
  return model
}

/** Multiply-adds ×2 of every convolution in one forward pass of the batch, from the layer shapes. */
function forwardFlops(model: tfl.LayersModel): number {
  let flops = 0
  for (const layer of model.layers) {
    const cls = layer.getClassName()
    if (cls !== 'Conv2D' && cls !== 'Conv2DTranspose') continue
    const inShape = layer.inputSpec?.[0]?.shape ?? (layer.input as tfl.SymbolicTensor).shape
    const outShape = (layer.output as tfl.SymbolicTensor).shape
    const kernel = (layer.getWeights()[0] as tf.Tensor).shape // [kh, kw, in, out] or [kh, kw, out, in]
    const taps = (kernel[0] as number) * (kernel[1] as number) * (kernel[2] as number) * (kernel[3] as number)
    // Conv2D: each output pixel does taps MACs; Conv2DTranspose: each input pixel does.
    const pixels = cls === 'Conv2D' ? (outShape[1] as number) * (outShape[2] as number) : (inShape[1] as number) * (inShape[2] as number)
    flops += 2 * BATCH * pixels * taps
  }
  return flops
}

function batch(): { xs: tf.Tensor4D; ys: tf.Tensor4D } {
  return tf.tidy(() => ({
    xs: tf.randomUniform([BATCH, SIZE, SIZE, 1], 0, 1, 'float32', 1) as tf.Tensor4D,
    ys: tf.cast(tf.greater(tf.randomUniform([BATCH, SIZE, SIZE, 1], 0, 1, 'float32', 2), 0.5), 'float32') as tf.Tensor4D,
  }))
}

interface Timing {
  min: number
  median: number
  /** Minimum CPU seconds of this process (user + system) per run: less disturbed by other load. */
  cpuMin: number
  runs: number
}

function summarise(times: number[], cpu: number[]): Timing {
  const sorted = [...times].sort((a, b) => a - b)
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, cpuMin: Math.min(...cpu), runs: sorted.length }
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1e6
}

async function timeStep(model: tfl.LayersModel, xs: tf.Tensor, ys: tf.Tensor, n: number): Promise<Timing> {
  const times: number[] = []
  const cpu: number[] = []
  for (let i = 0; i <= n; i++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await model.trainOnBatch(xs, ys)
    if (i === 0) continue // the first step builds optimizer state
    times.push((performance.now() - t0) / 1000)
    cpu.push(cpuSeconds(c0))
  }
  return summarise(times, cpu)
}

function timePredict(model: tfl.LayersModel, xs: tf.Tensor, n: number): Timing {
  const times: number[] = []
  const cpu: number[] = []
  for (let i = 0; i <= n; i++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    tf.tidy(() => (model.predict(xs) as tf.Tensor).dataSync())
    if (i === 0) continue
    times.push((performance.now() - t0) / 1000)
    cpu.push(cpuSeconds(c0))
  }
  return summarise(times, cpu)
}

async function setBackend(name: string): Promise<void> {
  if (name === 'wasm') registerWasmTrainingKernels()
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed to start`)
}

/** Runs one measurement in this process and prints it as JSON (used for the cpu backend, under a timeout). */
async function child(what: string): Promise<void> {
  const [backend, kind] = what.split(':') as [string, 'step' | 'predict']
  await setBackend(backend)
  const model = buildUnet()
  const { xs, ys } = batch()
  const t = kind === 'step' ? await timeStep(model, xs, ys, 1) : timePredict(model, xs, 1)
  console.log(JSON.stringify(t))
}

function runChild(what: string, timeoutS: number): Timing | string {
  const self = fileURLToPath(import.meta.url)
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', what], { encoding: 'utf8', timeout: timeoutS * 1000 })
  if (r.error !== undefined || r.status !== 0) {
    if (r.signal === 'SIGTERM') return `skipped: too slow (did not finish 2 runs within ${timeoutS} s)`
    return `failed: ${(r.stderr || String(r.error)).trim().split('\n').slice(-1)[0]}`
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Timing
}

interface TorchResult {
  torch: string
  threads: number
  step_min_s: number
  step_median_s: number
  predict_min_s: number
  predict_median_s: number
}

function runTorch(threads: number): TorchResult | string {
  const script = fileURLToPath(new URL('./unet_step.py', import.meta.url))
  const r = spawnSync('/usr/bin/python3', [script, '--threads', String(threads), '--steps', String(steps), '--json'], { encoding: 'utf8' })
  if (r.error !== undefined || r.status !== 0) {
    const why = (r.stderr || String(r.error)).trim().split('\n').slice(-1)[0] ?? ''
    return why.includes('No module named') ? 'not installed (apt-get install python3-torch)' : `failed: ${why}`
  }
  return JSON.parse(r.stdout.trim()) as TorchResult
}

/** Peak single-precision FLOP/s from /proc/cpuinfo: cores × clock × FLOPs per cycle of the widest FMA. */
function machinePeak(): { flops: number; how: string } {
  const info = readFileSync('/proc/cpuinfo', 'utf8')
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1] ?? 2000)
  const flags = /flags\s*:(.*)/.exec(info)?.[1] ?? ''
  const cores = cpus().length
  // Two FMA pipes per core (Zen, Skylake-SP and later); AVX-512 on Zen 4 runs as two 256-bit halves.
  const lanes = flags.includes(' avx2') || flags.includes(' avx512f') ? 8 : 4
  const perCycle = 2 * 2 * lanes
  return {
    flops: cores * mhz * 1e6 * perCycle,
    how: `${cores} logical cores × ${(mhz / 1000).toFixed(2)} GHz × ${perCycle} FLOP/cycle (2 FMA pipes × ${lanes} fp32 lanes; assumed, not measured)`,
  }
}

const fmt = (s: number) => `${s.toFixed(3)} s`

async function main(): Promise<void> {
  if (opts.child !== undefined) return child(opts.child)
  console.log('U-Net step benchmark: depth 4, 16 filters, BN, 128×128×1, batch 8, Adam, BCE')
  console.log(`machine shared with other work: figures are the minimum (and median) of ${steps} runs after a warm-up\n`)

  await setBackend('wasm')
  const { xs, ys } = batch()
  const model = buildUnet()
  const fwd = forwardFlops(model)
  const stepFlops = 3 * fwd
  const wasmStep = await timeStep(model, xs, ys, steps)
  const wasmPredict = timePredict(model, xs, steps)
  console.log(`wasm (SIMD, 1 thread; Node has no wasm threads in tfjs 4.22):`)
  console.log(`  training step   min ${fmt(wasmStep.min)}  median ${fmt(wasmStep.median)}  (CPU time min ${fmt(wasmStep.cpuMin)})`)
  console.log(`  prediction      min ${fmt(wasmPredict.min)}  median ${fmt(wasmPredict.median)}  (CPU time min ${fmt(wasmPredict.cpuMin)})`)

  if (opts.profile) {
    // Exclusive CPU time per kernel: every wasm kernel is wrapped; a kernel that calls others is charged
    // only for its own share.
    const byKernel = new Map<string, { s: number; n: number }>()
    const stack: number[] = []
    for (const config of tf.getKernelsForBackend('wasm')) {
      const inner = config.kernelFunc
      tf.unregisterKernel(config.kernelName, 'wasm')
      tf.registerKernel({
        ...config,
        setupFunc: undefined,
        kernelFunc: (args) => {
          const c0 = process.cpuUsage()
          stack.push(0)
          try {
            return inner(args)
          } finally {
            const total = cpuSeconds(c0)
            const nested = stack.pop()!
            if (stack.length > 0) stack[stack.length - 1]! += total
            const e = byKernel.get(config.kernelName) ?? { s: 0, n: 0 }
            e.s += total - nested
            e.n++
            byKernel.set(config.kernelName, e)
          }
        },
      })
    }
    await model.trainOnBatch(xs, ys)
    const total = [...byKernel.values()].reduce((a, e) => a + e.s, 0)
    console.log(`  kernels of one training step, exclusive CPU ms (all kernels: ${(total * 1000).toFixed(0)} ms):`)
    for (const [name, e] of [...byKernel].sort((a, b) => b[1].s - a[1].s).slice(0, 16)) {
      console.log(`    ${name.padEnd(24)} ${(e.s * 1000).toFixed(1).padStart(8)}  ${String(e.n).padStart(4)} calls`)
    }
  }

  const cpuPredict = runChild('cpu:predict', Number(opts['cpu-timeout']))
  const cpuStep = runChild('cpu:step', Number(opts['cpu-timeout']))
  console.log('cpu (pure JS):')
  console.log(`  training step   ${typeof cpuStep === 'string' ? cpuStep : `min ${fmt(cpuStep.min)}`}`)
  console.log(`  prediction      ${typeof cpuPredict === 'string' ? cpuPredict : `min ${fmt(cpuPredict.min)}`}`)

  const peak = machinePeak()
  const threadCounts = opts.threads !== undefined ? [Number(opts.threads)] : [...new Set([1, cpus().length])]
  if (!opts['no-torch']) {
    for (const threads of threadCounts) {
      const t = runTorch(threads)
      if (typeof t === 'string') {
        console.log(`PyTorch: ${t}`)
        break
      }
      console.log(`PyTorch ${t.torch} (CPU, ${t.threads} thread${t.threads > 1 ? 's' : ''}):`)
      console.log(`  training step   min ${fmt(t.step_min_s)}  median ${fmt(t.step_median_s)}   wasm/PyTorch ${(wasmStep.min / t.step_min_s).toFixed(2)}×`)
      console.log(`  prediction      min ${fmt(t.predict_min_s)}  median ${fmt(t.predict_median_s)}   wasm/PyTorch ${(wasmPredict.min / t.predict_min_s).toFixed(2)}×`)
    }
  }

  console.log('\nwork:')
  console.log(`  forward convolutions ${(fwd / 1e9).toFixed(2)} GFLOP per batch; training step ≈ 3× = ${(stepFlops / 1e9).toFixed(2)} GFLOP (BN, ReLU, pooling, Adam not counted)`)
  console.log(`  machine peak ${(peak.flops / 1e9).toFixed(0)} GFLOP/s: ${peak.how}`)
  console.log(`  wasm step reaches ${(stepFlops / wasmStep.min / 1e9).toFixed(1)} GFLOP/s = ${((100 * stepFlops) / wasmStep.min / peak.flops).toFixed(1)}% of peak; prediction ${(fwd / wasmPredict.min / 1e9).toFixed(1)} GFLOP/s`)
  tf.dispose([xs, ys])
}

await main()
