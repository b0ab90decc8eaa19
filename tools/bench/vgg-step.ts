/**
 * VGG U-Net training-step benchmark: seconds per training step of @unet/vgg-encoder's createVggUnet (encoder
 * trainable, and frozen up to block4_pool) beside @unet/layers' plain createUnet, at the seeds' setting:
 * 128×128×1 input, batch 8, Adam, binary cross-entropy, on the backend @unet/runtime starts (wasm by default).
 * Prints figures, asserts nothing.
 *
 *   cd tools/bench && pnpm exec tsx vgg-step.ts [--steps 3] [--backend wasm|cpu|auto] [--threads N]
 *
 * Timings on a shared machine are noisy: it prints the median and the minimum wall time per step, and the
 * minimum CPU time of this process per step (less disturbed by other load).
 */
import { parseArgs } from 'node:util'

import * as tf from '@tensorflow/tfjs-core'
import type * as tfl from '@tensorflow/tfjs-layers'

import { createUnet } from '../../packages/layers/src/index'
import { initBackend, type BackendRequest } from '../../packages/runtime/src/index'
import { createVggUnet } from '../../packages/vgg-encoder/src/index'

const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string' },
  },
})
const BATCH = 8
const SIZE = 128
const steps = Number(opts.steps)

/** Multiply-adds ×2 of every convolution in one forward pass of the batch, from the layer shapes. */
function forwardFlops(model: tfl.LayersModel): number {
  let flops = 0
  for (const layer of model.layers) {
    const cls = layer.getClassName()
    if (cls !== 'Conv2D' && cls !== 'Conv2DTranspose') continue
    const input = (layer.input as tfl.SymbolicTensor).shape
    const output = (layer.output as tfl.SymbolicTensor).shape
    const kernel = layer.weights[0]?.shape as number[]
    const taps = kernel.reduce((a, b) => a * b, 1)
    const pixels = cls === 'Conv2D' ? (output[1] as number) * (output[2] as number) : (input[1] as number) * (input[2] as number)
    flops += 2 * BATCH * pixels * taps
  }
  return flops
}

interface Timing {
  median: number
  min: number
  cpuMin: number
}

async function timeSteps(model: tfl.LayersModel): Promise<Timing> {
  const optimizer = tf.train.adam(1e-3)
  model.compile({ optimizer, loss: 'binaryCrossentropy' })
  const { xs, ys } = tf.tidy(() => ({
    xs: tf.randomUniform([BATCH, SIZE, SIZE, 1], 0, 1, 'float32', 1),
    ys: tf.cast(tf.greater(tf.randomUniform([BATCH, SIZE, SIZE, 1], 0, 1, 'float32', 2), 0.5), 'float32'),
  }))
  const wall: number[] = []
  const cpu: number[] = []
  for (let i = 0; i <= steps; i++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await model.trainOnBatch(xs, ys)
    const seconds = (performance.now() - t0) / 1000
    const usage = process.cpuUsage(c0)
    if (i === 0) continue // the first step builds the optimizer state and warms the kernels
    wall.push(seconds)
    cpu.push((usage.user + usage.system) / 1e6)
  }
  tf.dispose([xs, ys])
  optimizer.dispose()
  const sorted = [...wall].sort((a, b) => a - b)
  return { median: sorted[Math.floor(sorted.length / 2)] as number, min: sorted[0] as number, cpuMin: Math.min(...cpu) }
}

async function main(): Promise<void> {
  const info = await initBackend({
    backend: opts.backend as BackendRequest,
    ...(opts.threads ? { threads: Number(opts.threads) } : {}),
  })
  console.log(`backend ${info.backend} (${info.threads} threads): ${info.reason}`)
  console.log(`input ${SIZE}×${SIZE}×1, batch ${BATCH}, Adam, binary cross-entropy; ${steps} timed steps after 1 warm-up\n`)
  const cases: { name: string; build: () => tfl.LayersModel }[] = [
    { name: 'plain U-Net (createUnet defaults: depth 4, 16 filters)', build: () => createUnet({ inputShape: [SIZE, SIZE, 1] }) },
    { name: 'VGG U-Net, encoder trainable', build: () => createVggUnet({ inputShape: [SIZE, SIZE, 1] }) },
    {
      name: "VGG U-Net, frozen up to 'block4_pool'",
      build: () => createVggUnet({ inputShape: [SIZE, SIZE, 1], freezeUpTo: 'block4_pool' }),
    },
  ]
  console.log('| model | weights (trainable) | forward GFLOP/batch | s/step median | s/step min | CPU s/step min | images/s (min) |')
  console.log('| --- | --- | --- | --- | --- | --- | --- |')
  for (const { name, build } of cases) {
    const model = build()
    const trainable = model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0)
    const timing = await timeSteps(model)
    console.log(
      `| ${name} | ${(model.countParams() / 1e6).toFixed(2)} M (${(trainable / 1e6).toFixed(2)} M) | ` +
        `${(forwardFlops(model) / 1e9).toFixed(1)} | ${timing.median.toFixed(2)} | ${timing.min.toFixed(2)} | ` +
        `${timing.cpuMin.toFixed(2)} | ${(BATCH / timing.min).toFixed(1)} |`,
    )
    model.dispose()
  }
  console.log(`\ntensors left: ${tf.memory().numTensors}`)
}

await main()
