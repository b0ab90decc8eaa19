/**
 * ResNet U-Net training-step benchmark: seconds per training step of createUnet({ encoder: resnetEncoder(name) })
 * (torchvision topology, @unet/layers' decoder with filters [16, 32, 64, 128, 256]) at 128×128×3, batch 8, Adam,
 * binary cross-entropy, on wasm with oneDNN's conv kernels (@unet/runtime-native), on wasm without them
 * (UNET_NATIVE=0), and in PyTorch with the same net (resnet_step.py). Prints figures, asserts nothing.
 *
 *   cd tools/bench && pnpm exec tsx resnet-step.ts [--encoders resnet34,seresnet34] [--rounds 3] [--steps 3] [--threads 2]
 *
 * The machine is shared: every round runs each configuration once, one after another, in a child process, so the
 * ratios to PyTorch come from runs made close in time (paired); the figures are medians over rounds of each
 * run's median step, with the minimum CPU seconds per step beside them and the load average before and after.
 */
import { spawnSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values: opts } = parseArgs({
  options: {
    encoders: { type: 'string', default: 'resnet34,seresnet34' },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    child: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
  },
})
const BATCH = 8
const SIZE = 128

interface Timing {
  median: number
  min: number
  cpuMin: number
  backend?: string
}

async function child(encoder: string): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core')
  const { initBackend } = await import('../../packages/runtime/src/index')
  const { createUnet } = await import('../../packages/layers/src/index')
  const { resnetEncoder } = await import('../../packages/resnet-encoder/src/index')
  const info = await initBackend({ backend: 'wasm', threads: Number(opts.threads) })
  const model = createUnet({ encoder: resnetEncoder(encoder), inputShape: [SIZE, SIZE, 3], seed: 1 })
  const optimizer = tf.train.adam(1e-3)
  model.compile({ optimizer, loss: 'binaryCrossentropy' })
  const xs = tf.randomUniform([BATCH, SIZE, SIZE, 3], 0, 1, 'float32', 1)
  const ys = tf.cast(tf.greater(tf.randomUniform([BATCH, SIZE, SIZE, 1], 0, 1, 'float32', 2), 0.5), 'float32')
  const wall: number[] = []
  const cpu: number[] = []
  for (let i = 0; i <= Number(opts.steps); i++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await model.trainOnBatch(xs, ys)
    const usage = process.cpuUsage(c0)
    if (i === 0) continue // the first step builds the optimizer state and warms the kernels
    wall.push((performance.now() - t0) / 1000)
    cpu.push((usage.user + usage.system) / 1e6)
  }
  wall.sort((a, b) => a - b)
  console.log(JSON.stringify({ median: wall[Math.floor(wall.length / 2)], min: wall[0], cpuMin: Math.min(...cpu), backend: info.reason } satisfies Timing))
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Timing {
  const r = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26, timeout: 1_800_000 })
  const line = r.stdout.trim().split('\n').at(-1) ?? ''
  try {
    return JSON.parse(line) as Timing
  } catch {
    throw new Error(`${command} ${args.join(' ')} failed (status ${r.status}):\n${r.stderr.slice(-2000)}`)
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function main(): Promise<void> {
  if (opts.child) return child(opts.child)
  const self = fileURLToPath(import.meta.url)
  const torchScript = fileURLToPath(new URL('./resnet_step.py', import.meta.url))
  console.log(`ResNet U-Net training step: ${SIZE}×${SIZE}×3, batch ${BATCH}, Adam, BCE; ${opts.threads} threads each; ${opts.rounds} paired rounds of ${opts.steps} timed steps after 1 warm-up`)
  console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`)
  const configs = [
    { name: 'wasm + oneDNN', run: (e: string) => run(process.execPath, ['--import', 'tsx', self, '--child', e, '--steps', opts.steps, '--threads', opts.threads], { UNET_NATIVE: '1' }) },
    { name: 'wasm (UNET_NATIVE=0)', run: (e: string) => run(process.execPath, ['--import', 'tsx', self, '--child', e, '--steps', opts.steps, '--threads', opts.threads], { UNET_NATIVE: '0' }) },
    ...(opts['no-torch'] ? [] : [{ name: 'PyTorch', run: (e: string) => run('/usr/bin/python3', [torchScript, '--encoder', e, '--steps', opts.steps, '--threads', opts.threads], {}) }]),
  ]
  console.log('| encoder | run | s/step (median of rounds) | CPU s/step (min) | ratio to PyTorch (median of paired rounds) | per-round ratios |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const encoder of opts.encoders.split(',')) {
    const results: Record<string, Timing[]> = Object.fromEntries(configs.map((c) => [c.name, []]))
    for (let round = 0; round < Number(opts.rounds); round++) {
      for (const c of configs) {
        const timing = c.run(encoder)
        results[c.name]!.push(timing)
        // progress on stderr, so a run cut short still shows what it measured
        console.error(`${encoder} round ${round + 1} ${c.name}: median ${timing.median.toFixed(2)} s/step, CPU min ${timing.cpuMin.toFixed(2)} s/step (load ${loadavg()[0]!.toFixed(1)})`)
      }
    }
    const torch = results.PyTorch
    for (const c of configs) {
      const timings = results[c.name]!
      const ratios = torch ? timings.map((t, i) => t.median / torch[i]!.median) : []
      console.log(
        `| ${encoder} | ${c.name} | ${median(timings.map((t) => t.median)).toFixed(2)} | ${Math.min(...timings.map((t) => t.cpuMin)).toFixed(2)} | ` +
          `${torch ? median(ratios).toFixed(2) : '–'} | ${ratios.map((r) => r.toFixed(2)).join(', ')} |`,
      )
    }
    const backend = results['wasm + oneDNN']![0]!.backend
    if (backend) console.log(`  (wasm + oneDNN child reported: ${backend})`)
  }
  console.log(`\nload average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
}

await main()
