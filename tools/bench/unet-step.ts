/**
 * U-Net training-step benchmark: seconds per training step and per prediction batch on each tfjs backend
 * present, the same for PyTorch (tools/bench/unet_step.py) when python3-torch is installed, the step's FLOPs
 * and the share of the machine's peak. Prints figures, asserts nothing.
 *
 *   cd tools/bench && pnpm exec tsx unet-step.ts [--steps 5] [--threads 1,2] [--native both|on|off] [--cpu-timeout 60] [--no-torch] [--profile]
 *
 * wasm runs twice per thread count: with oneDNN's conv kernels from @unet/runtime-native when its addon is built
 * ("wasm + native"), and without them (`UNET_NATIVE=0`: wasm and @unet/runtime's own kernels only); both start
 * through initBackend, whose reason line says which kernels ran. `--native on|off` runs only one of the two.
 *
 * Each backend and thread count runs in a child process (the wasm thread pool is fixed once started).
 * Times are wall-clock minimum and median over the runs after a warm-up, plus the minimum CPU time of the
 * process (all its threads), which is the steadier figure on a machine shared with other work.
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

// Sources, not the built package: the benchmark measures the working tree without a build step.
import { initBackend } from '../../packages/runtime/src/index'

const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string', default: '5' },
    threads: { type: 'string' },
    'cpu-timeout': { type: 'string', default: '60' },
    'no-torch': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    native: { type: 'string', default: 'both' },
    child: { type: 'string' },
  },
})

const BATCH = 8
const SIZE = 128
const DEPTH = 4
const FILTERS = 16
const steps = Number(opts.steps)

/** The same U-Net built here, used only if @unet/layers cannot be loaded. */
function buildOwnUnet(): tfl.LayersModel {
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
  return tfl.model({ inputs: input, outputs: output })
}

let modelSource = 'tools/bench (fallback builder)'

/** @unet/layers' createUnet with the seeds' settings (from source, so no build is needed), compiled with Adam and BCE. */
async function buildUnet(): Promise<tfl.LayersModel> {
  let model: tfl.LayersModel
  try {
    const layers = (await import('../../packages/layers/src/index')) as {
      createUnet(options: Record<string, unknown>): tfl.LayersModel
    }
    model = layers.createUnet({
      depth: DEPTH,
      filters: FILTERS,
      filterScaling: 2,
      batchNormMomentum: 0.99,
      upsampling: 'transpose',
      inputShape: [SIZE, SIZE, 1],
      classes: 1,
      outputActivation: 'sigmoid',
    })
    modelSource = '@unet/layers createUnet'
  } catch {
    model = buildOwnUnet()
  }
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

interface ChildResult {
  reason: string
  native: boolean
  model: string
  step?: Timing
  predict: Timing
  kernels?: Array<[string, number, number]>
}

/** Per-kernel exclusive CPU time of one training step: every wasm kernel is wrapped and timed. */
async function profileStep(model: tfl.LayersModel, xs: tf.Tensor, ys: tf.Tensor): Promise<Array<[string, number, number]>> {
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
          // A kernel that calls others is charged only for its own share.
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
  return [...byKernel].sort((a, b) => b[1].s - a[1].s).map(([name, e]) => [name, e.s, e.n])
}

/** Runs one backend's measurements in this process and prints them as JSON on the last line. */
async function child(spec: string): Promise<void> {
  const [backend, threads, what] = spec.split(':') as ['wasm' | 'cpu', string, 'all' | 'step' | 'predict']
  const info = await initBackend({ backend, threads: Number(threads) })
  const model = await buildUnet()
  const { xs, ys } = batch()
  const runs = backend === 'cpu' ? 1 : steps
  const result: ChildResult = { reason: info.reason, native: info.native, model: modelSource, predict: { min: NaN, median: NaN, cpuMin: NaN, runs: 0 } }
  if (what !== 'predict') result.step = await timeStep(model, xs, ys, runs)
  if (what !== 'step') result.predict = timePredict(model, xs, runs)
  if (opts.profile && backend === 'wasm' && Number(threads) === 1) result.kernels = await profileStep(model, xs, ys)
  console.log(JSON.stringify(result))
  // The threaded wasm build's workers would keep the process alive.
  process.exit(0)
}

function runChild(spec: string, timeoutS: number, native = false): ChildResult | string {
  const self = fileURLToPath(import.meta.url)
  const args = ['--import', 'tsx', self, '--child', spec, '--steps', String(steps), ...(opts.profile ? ['--profile'] : [])]
  const env: NodeJS.ProcessEnv = { ...process.env, UNET_NATIVE: native ? '1' : '0' }
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 1 << 26, env })
  if (r.error !== undefined || r.status !== 0) {
    if (r.signal === 'SIGTERM') return `skipped: too slow (did not finish within ${timeoutS} s)`
    return `failed: ${(r.stderr || String(r.error)).trim().split('\n').slice(-1)[0]}`
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult
}

interface TorchResult {
  torch: string
  threads: number
  step_min_s: number
  step_median_s: number
  predict_min_s: number
  predict_median_s: number
  step_cpu_min_s: number
  predict_cpu_min_s: number
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
  // Two FMA pipes per core (Zen, Skylake and later), 256 bits each (Zen 4 runs AVX-512 as two halves, so
  // AVX2 and AVX-512 peak the same there; PyTorch from Debian uses AVX2 kernels).
  const lanes = flags.includes(' avx2') ? 8 : 4
  const perCycle = 2 * 2 * lanes
  return {
    flops: cores * mhz * 1e6 * perCycle,
    how: `${cores} logical cores × ${(mhz / 1000).toFixed(2)} GHz × ${perCycle} FLOP/cycle (2 FMA pipes × ${lanes} fp32 lanes × 2; assumed from /proc/cpuinfo, not measured)`,
  }
}

const fmt = (s: number) => `${s.toFixed(3)} s`

const fmtTiming = (t: Timing) => `min ${fmt(t.min)}  median ${fmt(t.median)}  CPU ${fmt(t.cpuMin)}`

async function main(): Promise<void> {
  if (opts.child !== undefined) return child(opts.child)
  const cores = cpus().length
  const threadCounts = opts.threads !== undefined ? opts.threads.split(',').map(Number) : [...new Set([1, cores])]
  console.log('U-Net step benchmark: depth 4, 16 filters ×2 per level, BN, 2×2 transposed-conv up-sampling, 128×128×1, batch 8, Adam, BCE')
  console.log(`${cores} logical cores; the machine may be shared with other work: wall-clock min/median of ${steps} runs after a warm-up,`)
  console.log('and the minimum CPU seconds of the process (all threads), the steadier figure under load.\n')

  const variants = opts.native === 'on' ? [true] : opts.native === 'off' ? [false] : [false, true]
  /** Keyed by label: 'wasm 1T', 'wasm + native 1T', … */
  const wasm = new Map<string, ChildResult & { threads: number }>()
  for (const threads of threadCounts) {
    for (const native of variants) {
      const label = `wasm${native ? ' + native' : ''} ${threads}T`
      const r = runChild(`wasm:${threads}:all`, 900, native)
      console.log(`wasm${native ? ' + oneDNN native conv kernels' : ' (UNET_NATIVE=0)'}, ${threads} thread${threads > 1 ? 's' : ''}:`)
      if (typeof r === 'string') {
        console.log(`  ${r}`)
        continue
      }
      if (native && !r.native) {
        console.log(`  skipped: ${/no native conv kernels \(.*\)$/.exec(r.reason)?.[0] ?? r.reason}`)
        continue
      }
      wasm.set(label, { ...r, threads })
      const convs = /(\+ oneDNN native conv kernels.*|no native conv kernels.*)$/.exec(r.reason)?.[0] ?? ''
      console.log(`  (${r.reason.split(';').slice(1, 2).join('').trim() || r.reason}; ${convs}; model from ${r.model})`)
      console.log(`  training step   ${fmtTiming(r.step!)}`)
      console.log(`  prediction      ${fmtTiming(r.predict)}`)
      if (r.kernels !== undefined) {
        const total = r.kernels.reduce((a, k) => a + k[1], 0)
        console.log(`  kernels of one training step, exclusive CPU ms (all kernels ${(total * 1000).toFixed(0)} ms):`)
        for (const [name, sec, n] of r.kernels.slice(0, 14)) console.log(`    ${name.padEnd(24)} ${(sec * 1000).toFixed(1).padStart(8)}  ${String(n).padStart(4)} calls`)
      }
    }
  }

  const cpuTimeout = Number(opts['cpu-timeout'])
  const cpuPredict = runChild('cpu:1:predict', cpuTimeout)
  const cpuStep = runChild('cpu:1:step', cpuTimeout)
  console.log('cpu (pure JS), one run each:')
  console.log(`  training step   ${typeof cpuStep === 'string' ? cpuStep + ' (the issue reports > 10 min)' : fmtTiming(cpuStep.step!)}`)
  console.log(`  prediction      ${typeof cpuPredict === 'string' ? cpuPredict : fmtTiming(cpuPredict.predict)}`)

  const torch = new Map<number, TorchResult>()
  if (!opts['no-torch']) {
    for (const threads of threadCounts) {
      const t = runTorch(threads)
      if (typeof t === 'string') {
        console.log(`PyTorch: ${t}`)
        break
      }
      torch.set(threads, t)
      console.log(`PyTorch ${t.torch} (CPU, ${t.threads} thread${t.threads > 1 ? 's' : ''}):`)
      console.log(`  training step   min ${fmt(t.step_min_s)}  median ${fmt(t.step_median_s)}  CPU ${fmt(t.step_cpu_min_s)}`)
      console.log(`  prediction      min ${fmt(t.predict_min_s)}  median ${fmt(t.predict_median_s)}  CPU ${fmt(t.predict_cpu_min_s)}`)
    }
  }

  if (torch.size > 0 && wasm.size > 0) {
    console.log('\nwasm / PyTorch at the same thread count (wall min; CPU min):')
    for (const [label, w] of wasm) {
      const t = torch.get(w.threads)
      if (t === undefined) continue
      const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`
      console.log(
        `  ${label}: training step ${ratio(w.step!.min, t.step_min_s)}; ${ratio(w.step!.cpuMin, t.step_cpu_min_s)}` +
          `   prediction ${ratio(w.predict.min, t.predict_min_s)}; ${ratio(w.predict.cpuMin, t.predict_cpu_min_s)}`,
      )
    }
  }

  await tf.setBackend('cpu')
  const fwd = forwardFlops(await buildUnet())
  const stepFlops = 3 * fwd
  const peak = machinePeak()
  console.log('\nwork:')
  console.log(`  forward convolutions ${(fwd / 1e9).toFixed(2)} GFLOP per batch; training step ≈ 3× = ${(stepFlops / 1e9).toFixed(2)} GFLOP (BN, ReLU, pooling, Adam not counted)`)
  console.log(`  machine peak ${(peak.flops / 1e9).toFixed(0)} GFLOP/s: ${peak.how}`)
  const share = (flops: number, s: number, threads: number) =>
    `${(flops / s / 1e9).toFixed(1)} GFLOP/s = ${((100 * flops) / s / peak.flops).toFixed(1)}% of the machine, ${((100 * flops * cores) / s / peak.flops / threads).toFixed(1)}% of ${threads} core${threads > 1 ? 's' : ''}`
  const perCore = (flops: number, s: number) => `${(flops / s / 1e9).toFixed(1)} GFLOP/s = ${((100 * flops * cores) / s / peak.flops).toFixed(1)}% of one core's peak`
  for (const [label, w] of wasm) {
    console.log(`  ${label} step, wall min: ${share(stepFlops, w.step!.min, w.threads)}; prediction: ${share(fwd, w.predict.min, w.threads)}`)
    console.log(`  ${label} per CPU-second: step ${perCore(stepFlops, w.step!.cpuMin)}; prediction ${perCore(fwd, w.predict.cpuMin)}`)
  }
  for (const [threads, t] of torch) {
    console.log(`  PyTorch ${threads}T step, wall min: ${share(stepFlops, t.step_min_s, threads)}; prediction: ${share(fwd, t.predict_min_s, threads)}`)
    console.log(`  PyTorch ${threads}T per CPU-second: step ${perCore(stepFlops, t.step_cpu_min_s)}; prediction ${perCore(fwd, t.predict_cpu_min_s)}`)
  }
  console.log('  (wasm SIMD is 128-bit with separate multiply and add: at most half of this 256-bit FMA peak per core)')
}

await main()
