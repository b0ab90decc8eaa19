/**
 * U-Net training-step and prediction benchmark against PyTorch: medians of paired runs. Prints figures,
 * asserts nothing. The machine is shared, so every figure is noisy: read the medians, the paired ratios and the
 * CPU seconds, and the load average printed beside them.
 *
 *   pnpm --filter @unet/bench unet-step [--pairs 5] [--steps 3] [--threads 1,2] [--native both|on|off] [--no-torch] [--profile] [--cpu]
 *     [--torch-omp pinned|default]
 *
 * For each thread count, `--pairs` times: one run of each of our variants and one PyTorch run
 * (tools/bench/unet_step.py, /usr/bin/python3 with Debian's torch), in alternating order so that drift in the
 * machine's load hits both sides alike. Each run is a fresh process (the wasm thread pool is fixed once
 * started) that times `--steps` training steps and prediction batches after a warm-up and reports their
 * medians and CPU seconds. The summary gives, per variant, the median over pairs of each figure and of the
 * per-pair ratio ours ÷ PyTorch. PyTorch's OpenMP threads are pinned to the thread count (see `pinTorchOmp`).
 *
 * Our variants: wasm with @unet/runtime's kernels plus oneDNN's conv kernels from @unet/runtime-native where
 * its addon is built ("wasm + oneDNN"), and wasm alone (`UNET_NATIVE=0`). Prediction runs the predict-only
 * model of `createInferenceModel` (batch norms folded, ReLUs fused), as `unet predict` and the browser page
 * should; the trained model's own `predict` is printed beside it ("unfolded"). PyTorch predicts in eval
 * mode under no_grad.
 *
 * `--profile` adds, per variant and thread count, one more run with every wasm kernel wrapped: exclusive
 * CPU and wall milliseconds per kernel for one training step and one prediction batch. `--cpu` also tries
 * the pure-JS cpu backend (minutes per step).
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
import { createInferenceModel, initBackend } from '../../packages/runtime/src/index'

import { loadAverage, median } from './timing'

const { values: opts } = parseArgs({
  options: {
    pairs: { type: 'string', default: '5' },
    steps: { type: 'string', default: '3' },
    threads: { type: 'string' },
    cpu: { type: 'boolean', default: false },
    'cpu-timeout': { type: 'string', default: '120' },
    'no-torch': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    native: { type: 'string', default: 'both' },
    child: { type: 'string' },
    'child-timeout': { type: 'string', default: '600' },
    'torch-omp': { type: 'string', default: 'pinned' },
  },
})

const BATCH = 8
const SIZE = 128
const DEPTH = 4
const FILTERS = 16
const steps = Number(opts.steps)
/** Seconds before a run is given up (a loaded machine can stall a threaded run for minutes). */
const childTimeout = Number(opts['child-timeout'])

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
  /** Median wall-clock seconds per run. */
  median: number
  min: number
  /** Median CPU seconds of this process (all its threads) per run. */
  cpu: number
  runs: number
}

function summarise(times: number[], cpu: number[]): Timing {
  return { median: median(times), min: Math.min(...times), cpu: median(cpu), runs: times.length }
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

/**
 * One prediction batch read back to JS, as a user's code does. Not `tf.tidy(() => predict(xs).dataSync())`:
 * tidy walks whatever its callback returns looking for tensors, and walking the batch's 131,072 floats took
 * 22–30 ms CPU on this machine (5–8% of a wasm prediction), charged to us and never to PyTorch.
 */
function predictOnce(model: tfl.LayersModel, xs: tf.Tensor): void {
  const y = model.predict(xs) as tf.Tensor
  y.dataSync()
  y.dispose()
}

function timePredict(model: tfl.LayersModel, xs: tf.Tensor, n: number): Timing {
  const times: number[] = []
  const cpu: number[] = []
  for (let i = 0; i <= n; i++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    predictOnce(model, xs)
    if (i === 0) continue
    times.push((performance.now() - t0) / 1000)
    cpu.push(cpuSeconds(c0))
  }
  return summarise(times, cpu)
}

/** Exclusive CPU and wall seconds and calls, per kernel. */
type KernelProfile = Array<{ name: string; cpu: number; wall: number; calls: number }>

interface ChildResult {
  reason: string
  native: boolean
  model: string
  step?: Timing
  /** The predict-only model (batch norms folded, ReLUs fused). */
  predict?: Timing
  /** The trained model's own predict. */
  predictUnfolded?: Timing
  /** Largest |folded − unfolded| prediction. */
  foldDiff?: number
  profile?: { step: KernelProfile; predict: KernelProfile }
}

/** Wraps every wasm kernel to charge it its exclusive CPU and wall time while `run` runs. */
async function profileKernels(run: () => Promise<unknown>): Promise<KernelProfile> {
  const byKernel = new Map<string, { cpu: number; wall: number; calls: number }>()
  const stack: Array<{ cpu: number; wall: number }> = []
  const originals = tf.getKernelsForBackend('wasm')
  for (const config of originals) {
    const inner = config.kernelFunc
    tf.unregisterKernel(config.kernelName, 'wasm')
    tf.registerKernel({
      ...config,
      setupFunc: undefined,
      kernelFunc: (args) => {
        const c0 = process.cpuUsage()
        const t0 = performance.now()
        stack.push({ cpu: 0, wall: 0 })
        try {
          return inner(args)
        } finally {
          const cpu = cpuSeconds(c0)
          const wall = (performance.now() - t0) / 1000
          const nested = stack.pop()!
          // A kernel that calls others is charged only for its own share.
          const parent = stack[stack.length - 1]
          if (parent !== undefined) {
            parent.cpu += cpu
            parent.wall += wall
          }
          const e = byKernel.get(config.kernelName) ?? { cpu: 0, wall: 0, calls: 0 }
          e.cpu += cpu - nested.cpu
          e.wall += wall - nested.wall
          e.calls++
          byKernel.set(config.kernelName, e)
        }
      },
    })
  }
  try {
    await run()
  } finally {
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, 'wasm')
      tf.registerKernel(config)
    }
  }
  return [...byKernel].sort((a, b) => b[1].wall - a[1].wall).map(([name, e]) => ({ name, ...e }))
}

/** Runs one backend's measurements in this process and prints them as JSON on the last line. */
async function child(spec: string): Promise<void> {
  const [backend, threads, what] = spec.split(':') as ['wasm' | 'cpu', string, 'all' | 'step' | 'predict' | 'profile']
  const info = await initBackend({ backend, threads: Number(threads) })
  const model = await buildUnet()
  const { xs, ys } = batch()
  const runs = backend === 'cpu' ? 1 : steps
  const result: ChildResult = { reason: info.reason, native: info.native, model: modelSource }
  if (what === 'profile') {
    await model.trainOnBatch(xs, ys) // optimizer state, kernel setup
    const step = await profileKernels(() => model.trainOnBatch(xs, ys))
    const fast = await createInferenceModel(model)
    predictOnce(fast, xs)
    const predict = await profileKernels(async () => predictOnce(fast, xs))
    result.profile = { step, predict }
  } else {
    if (what !== 'predict') result.step = await timeStep(model, xs, ys, runs)
    if (what !== 'step') {
      // Trained (a step has run in 'all' mode): real batch-norm statistics to fold.
      const fast = await createInferenceModel(model)
      result.predict = timePredict(fast, xs, runs)
      result.predictUnfolded = timePredict(model, xs, runs)
      result.foldDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(fast.predict(xs) as tf.Tensor, model.predict(xs) as tf.Tensor))).dataSync()[0])
    }
  }
  console.log(JSON.stringify(result))
  // The threaded wasm build's workers would keep the process alive.
  process.exit(0)
}

function runChild(spec: string, timeoutS: number, native = false): ChildResult | string {
  const self = fileURLToPath(import.meta.url)
  const args = ['--import', 'tsx', self, '--child', spec, '--steps', String(steps)]
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
  step_median_s: number
  predict_median_s: number
  step_cpu_median_s: number
  predict_cpu_median_s: number
}

/**
 * `--torch-omp pinned` (the default): PyTorch runs with OMP_NUM_THREADS and MKL_NUM_THREADS set to the thread count,
 * as our side's oneDNN runs on that many OpenMP threads. Without them, `torch.set_num_threads(1)` still leaves
 * OpenMP's second thread busy beside the first: on the 2-core Xeon, 0.80–0.85 CPU s per 0.44–0.48 s step (1.8
 * cores) against 0.47–0.50 CPU s per 0.47–0.50 s pinned. `--torch-omp default` leaves the pool as PyTorch sets it.
 */
const pinTorchOmp = opts['torch-omp'] !== 'default'

function runTorch(threads: number): TorchResult | string {
  const script = fileURLToPath(new URL('./unet_step.py', import.meta.url))
  const env: NodeJS.ProcessEnv = pinTorchOmp ? { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) } : process.env
  const r = spawnSync('/usr/bin/python3', [script, '--threads', String(threads), '--steps', String(steps), '--json'], { encoding: 'utf8', env })
  if (r.error !== undefined || r.status !== 0) {
    const why = (r.stderr || String(r.error)).trim().split('\n').slice(-1)[0] ?? ''
    return why.includes('No module named') ? 'not installed (apt-get install python3-torch)' : `failed: ${why}`
  }
  return JSON.parse(r.stdout.trim()) as TorchResult
}

/**
 * Peak single-precision FLOP/s per core from /proc/cpuinfo: the clock × the widest vector the CPU has
 * (flags avx512f: 512-bit, 16 float lanes; avx2: 256-bit, 8; else SSE, 4) × 2 vector pipes × 2 FLOP per lane
 * and cycle (a fused multiply-add where the `fma` flag is there; else a multiply on one pipe and an add on
 * the other, 1 FLOP each, so half). Cores that split 512-bit work over 256-bit pipes (AMD Zen 4) reach half
 * of the AVX-512 figure; the peak printed is then above what the core can do, never below.
 */
export function corePeak(cpuinfo: string): { flops: number; how: string; lanes: number } {
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(cpuinfo)?.[1] ?? 2000)
  const flags = ` ${/flags\s*:(.*)/.exec(cpuinfo)?.[1] ?? ''} `
  const lanes = flags.includes(' avx512f ') ? 16 : flags.includes(' avx2 ') ? 8 : 4
  const fma = flags.includes(' fma ')
  const isa = lanes === 16 ? 'AVX-512' : lanes === 8 ? 'AVX2' : 'SSE'
  const perCycle = 2 * lanes * (fma ? 2 : 1)
  return {
    flops: mhz * 1e6 * perCycle,
    lanes,
    how:
      `${(mhz / 1000).toFixed(2)} GHz (cpu MHz in /proc/cpuinfo) × ${perCycle} FLOP/cycle (${isa} from the cpu flags: ` +
      `${lanes} fp32 lanes × 2 pipes × ${fma ? '2 (FMA)' : '1 (no fma flag)'})`,
  }
}

const fmt = (s: number) => `${s.toFixed(3)} s`
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`

interface Pair {
  ours: Map<string, ChildResult>
  torch?: TorchResult
  load: string
}

async function main(): Promise<void> {
  if (opts.child !== undefined) return child(opts.child)
  const cores = cpus().length
  const pairs = Number(opts.pairs)
  const threadCounts = opts.threads !== undefined ? opts.threads.split(',').map(Number) : [...new Set([1, cores])]
  const startLoad = loadAverage()
  console.log('U-Net benchmark: depth 4, 16 filters ×2 per level, BN, 2×2 transposed-conv up-sampling, 128×128×1, batch 8, Adam, BCE')
  console.log(`${cores} logical cores; load average ${startLoad} at the start (uptime: 1, 5, 15 min).`)
  console.log(`${pairs} pairs per thread count, each run the median of ${steps} timed steps / prediction batches after a warm-up.`)
  console.log(
    pinTorchOmp
      ? 'PyTorch runs with OMP_NUM_THREADS = MKL_NUM_THREADS = the thread count (--torch-omp default: as PyTorch sets its pool).'
      : "PyTorch's OpenMP pool as PyTorch sets it (--torch-omp default): at 1 thread a second OpenMP thread may run beside the first.",
  )
  console.log('The machine is shared: wall-clock figures swing with other work. Compare the medians, the paired ratios and CPU seconds.\n')

  const variants = opts.native === 'on' ? [true] : opts.native === 'off' ? [false] : [true, false]
  const label = (native: boolean) => (native ? 'wasm + oneDNN' : 'wasm alone')
  const byThreads = new Map<number, Pair[]>()
  const notes = new Set<string>()
  for (const threads of threadCounts) {
    const list: Pair[] = []
    byThreads.set(threads, list)
    console.log(`— ${threads} thread${threads > 1 ? 's' : ''} —`)
    for (let p = 0; p < pairs; p++) {
      const pair: Pair = { ours: new Map(), load: loadAverage() }
      const runOurs = () => {
        for (const native of variants) {
          const r = runChild(`wasm:${threads}:all`, childTimeout, native)
          if (typeof r === 'string') notes.add(`${label(native)} ${threads}T: ${r}`)
          else if (native && !r.native) notes.add(`${label(native)}: skipped, ${/no native conv kernels \(.*\)$/.exec(r.reason)?.[0] ?? r.reason}`)
          else pair.ours.set(label(native), r)
        }
      }
      const runPy = () => {
        if (opts['no-torch']) return
        const t = runTorch(threads)
        if (typeof t === 'string') notes.add(`PyTorch: ${t}`)
        else pair.torch = t
      }
      // Alternate who goes first, so that a change in load between the two halves of a pair evens out.
      if (p % 2 === 0) {
        runOurs()
        runPy()
      } else {
        runPy()
        runOurs()
      }
      list.push(pair)
      const parts = [...pair.ours].map(([name, r]) => `${name} step ${fmt(r.step!.median)} predict ${fmt(r.predict!.median)}`)
      if (pair.torch) parts.push(`PyTorch step ${fmt(pair.torch.step_median_s)} predict ${fmt(pair.torch.predict_median_s)}`)
      console.log(`  pair ${p + 1} (load ${pair.load}): ${parts.join(' | ')}`)
    }
  }
  for (const n of notes) console.log(`note: ${n}`)

  await tf.setBackend('cpu')
  const fwd = forwardFlops(await buildUnet())
  const stepFlops = 3 * fwd
  const core = corePeak(readFileSync('/proc/cpuinfo', 'utf8'))
  const gflops = (flops: number, s: number, threads: number) =>
    `${(flops / s / 1e9).toFixed(1)} GFLOP/s, ${((100 * flops) / s / (core.flops * threads)).toFixed(0)}% of ${threads} core${threads > 1 ? 's' : ''}`

  console.log('\nSummary: medians over the pairs (wall s; CPU s of the process). Ratio = median of the per-pair ratios ours ÷ PyTorch.')
  for (const [threads, list] of byThreads) {
    console.log(`\n${threads} thread${threads > 1 ? 's' : ''}:`)
    const torchPairs = list.filter((p) => p.torch !== undefined)
    if (torchPairs.length > 0) {
      const t = (f: (r: TorchResult) => number) => median(torchPairs.map((p) => f(p.torch!)))
      const tv = torchPairs[0]!.torch!.torch
      console.log(
        `  PyTorch ${tv}`.padEnd(28) +
          `step ${fmt(t((r) => r.step_median_s))} (CPU ${fmt(t((r) => r.step_cpu_median_s))}; ${gflops(stepFlops, t((r) => r.step_median_s), threads)})` +
          `   predict ${fmt(t((r) => r.predict_median_s))} (CPU ${fmt(t((r) => r.predict_cpu_median_s))}; ${gflops(fwd, t((r) => r.predict_median_s), threads)})`,
      )
    }
    for (const native of variants) {
      const name = label(native)
      const rows = list.filter((p) => p.ours.has(name))
      if (rows.length === 0) continue
      const m = (f: (r: ChildResult) => number) => median(rows.map((p) => f(p.ours.get(name)!)))
      const step = m((r) => r.step!.median)
      const predict = m((r) => r.predict!.median)
      console.log(
        `  ${name}`.padEnd(28) +
          `step ${fmt(step)} (CPU ${fmt(m((r) => r.step!.cpu))}; ${gflops(stepFlops, step, threads)})` +
          `   predict ${fmt(predict)} (CPU ${fmt(m((r) => r.predict!.cpu))}; ${gflops(fwd, predict, threads)})` +
          `   unfolded predict ${fmt(m((r) => r.predictUnfolded!.median))}; folded − unfolded ≤ ${Math.max(...rows.map((p) => p.ours.get(name)!.foldDiff!)).toExponential(1)}`,
      )
      const paired = rows.filter((p) => p.torch !== undefined)
      if (paired.length > 0) {
        const r = (f: (o: ChildResult, t: TorchResult) => number) => median(paired.map((p) => f(p.ours.get(name)!, p.torch!)))
        console.log(
          `  ${name} ÷ PyTorch`.padEnd(28) +
            `step ${r((o, t) => o.step!.median / t.step_median_s).toFixed(2)}× (CPU ${r((o, t) => o.step!.cpu / t.step_cpu_median_s).toFixed(2)}×)` +
            `   predict ${r((o, t) => o.predict!.median / t.predict_median_s).toFixed(2)}× (CPU ${r((o, t) => o.predict!.cpu / t.predict_cpu_median_s).toFixed(2)}×)` +
            `   [per pair, step: ${paired.map((p) => ratio(p.ours.get(name)!.step!.median, p.torch!.step_median_s)).join(' ')};` +
            ` predict: ${paired.map((p) => ratio(p.ours.get(name)!.predict!.median, p.torch!.predict_median_s)).join(' ')}]`,
        )
      }
    }
    // Thread scaling: the same variant's 1-thread median over this one.
    const one = byThreads.get(1)
    if (threads > 1 && one !== undefined) {
      for (const native of variants) {
        const name = label(native)
        const a = median(one.filter((p) => p.ours.has(name)).map((p) => p.ours.get(name)!.step!.median))
        const b = median(list.filter((p) => p.ours.has(name)).map((p) => p.ours.get(name)!.step!.median))
        const ap = median(one.filter((p) => p.ours.has(name)).map((p) => p.ours.get(name)!.predict!.median))
        const bp = median(list.filter((p) => p.ours.has(name)).map((p) => p.ours.get(name)!.predict!.median))
        if (Number.isFinite(a) && Number.isFinite(b)) {
          console.log(`  ${name} 1 → ${threads} threads: step ${((100 * (a - b)) / a).toFixed(0)}% faster, predict ${((100 * (ap - bp)) / ap).toFixed(0)}% faster`)
        }
      }
    }
  }

  console.log('\nwork and peak:')
  console.log(`  forward convolutions ${(fwd / 1e9).toFixed(2)} GFLOP per batch; training step ≈ 3× = ${(stepFlops / 1e9).toFixed(2)} GFLOP (BN, ReLU, pooling, Adam not counted)`)
  console.log(`  one core's peak ${(core.flops / 1e9).toFixed(0)} GFLOP/s: ${core.how}`)
  console.log(
    `  wasm SIMD is 128-bit (4 lanes): with a separate multiply and add (XNNPACK) wasm can reach at most ${(400 / (core.lanes * 2)).toFixed(1)}% of that peak per core, ` +
      `with relaxed SIMD's fused multiply-add (@unet/runtime's own GEMM) ${(800 / (core.lanes * 2)).toFixed(1)}%; the GFLOP/s above count a direct convolution's work, which Winograd does with fewer multiply-adds; ` +
      'the clock in /proc/cpuinfo may be below the boost clock, so a share above 100% means the core ran faster than listed.',
  )
  console.log(`  load average ${loadAverage()} at the end (started at ${startLoad}).`)

  if (opts.profile) {
    console.log('\nProfile: exclusive wall and CPU ms per wasm kernel, one training step and one prediction batch (kernels wrapped and timed; JS between kernels not counted):')
    for (const threads of threadCounts) {
      for (const native of variants) {
        const r = runChild(`wasm:${threads}:profile`, childTimeout, native)
        if (typeof r === 'string' || r.profile === undefined) {
          console.log(`  ${label(native)}, ${threads}T: ${typeof r === 'string' ? r : 'no profile'}`)
          continue
        }
        if (native && !r.native) {
          console.log(`  ${label(native)}, ${threads}T: skipped, ${/no native conv kernels \(.*\)$/.exec(r.reason)?.[0] ?? r.reason}`)
          continue
        }
        for (const [what, list] of [['training step', r.profile.step], ['prediction (folded model)', r.profile.predict]] as const) {
          const wall = list.reduce((a, k) => a + k.wall, 0)
          const cpu = list.reduce((a, k) => a + k.cpu, 0)
          console.log(`  ${label(native)}, ${threads}T, ${what}: all kernels ${(wall * 1000).toFixed(0)} ms wall, ${(cpu * 1000).toFixed(0)} ms CPU`)
          for (const k of list.slice(0, 14)) {
            console.log(`    ${k.name.padEnd(24)} ${(k.wall * 1000).toFixed(1).padStart(8)} wall ${(k.cpu * 1000).toFixed(1).padStart(8)} CPU ${String(k.calls).padStart(5)} calls`)
          }
        }
      }
    }
  }

  if (opts.cpu) {
    const cpuTimeout = Number(opts['cpu-timeout'])
    const cpuPredict = runChild('cpu:1:predict', cpuTimeout)
    console.log('\ncpu backend (pure JS), one prediction batch:')
    console.log(`  ${typeof cpuPredict === 'string' ? cpuPredict : `${fmt(cpuPredict.predict!.median)} (unfolded ${fmt(cpuPredict.predictUnfolded!.median)})`}`)
  }
}

await main()
