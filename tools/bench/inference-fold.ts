/**
 * The predict-only model of `createInferenceModel` on every encoder: how many batch norms and ReLUs it folds,
 * which batch norms stay (and why), the largest difference from the trained model's prediction, and the time
 * of one prediction batch before and after (wasm through initBackend; medians). Prints figures, asserts nothing.
 *
 *   pnpm --filter @unet/bench inference-fold [--size 128] [--batch 4] [--runs 3] [--threads 1]
 *
 * Batch-norm statistics are first set to seeded values far from their initial 0 / 1, as after training, so
 * that folding has something to fold.
 */
import { parseArgs } from 'node:util'

import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'

// The model builders from their built packages (pnpm build first); the transform from this tree's source.
import { createUnet } from '@unet/layers'
import { resnetEncoder } from '@unet/resnet-encoder'
import { createInferenceModel, inferencePlan, initBackend } from '../../packages/runtime/src/index'
import { vggEncoder } from '@unet/vgg-encoder'
import { seededRandom } from '@unet/testing'

import { loadAverage, median } from './timing'

const { values: opts } = parseArgs({
  options: {
    size: { type: 'string', default: '128' },
    batch: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
  },
})
const size = Number(opts.size)
const batch = Number(opts.batch)
const runs = Number(opts.runs)

function trainedLikeStatistics(model: tfl.LayersModel, seed: number): void {
  const next = seededRandom(seed)
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue
    const values = layer.weights.map((w) => {
      const kind = w.originalName.slice(w.originalName.lastIndexOf('/') + 1)
      const n = (w.shape as number[]).reduce((a, b) => a * b, 1)
      const v = Float32Array.from({ length: n }, () => {
        const u = next()
        return kind === 'moving_variance' ? 0.2 + 2 * u : kind === 'gamma' ? 0.5 + u : 0.5 * (2 * u - 1)
      })
      return tf.tensor(v, w.shape as number[])
    })
    layer.setWeights(values)
    tf.dispose(values)
  }
}

function timePredict(model: tfl.LayersModel, x: tf.Tensor): number {
  const times: number[] = []
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now()
    const y = model.predict(x) as tf.Tensor // not tidy(() => …dataSync()): tidy walks the returned array
    y.dataSync()
    y.dispose()
    if (i > 0) times.push((performance.now() - t0) / 1000)
  }
  return median(times)
}

const info = await initBackend({ threads: Number(opts.threads) })
console.log(`${info.reason}`)
console.log(`input ${size}×${size}×3, batch ${batch}, median of ${runs} prediction batches; load average ${loadAverage()}\n`)
const encoders: Array<[string, () => tfl.LayersModel]> = [
  ['plain (depth 4, 16 filters)', () => createUnet({ inputShape: [size, size, 3], seed: 1 })],
  ['vgg16', () => createUnet({ encoder: vggEncoder(), inputShape: [size, size, 3], seed: 1 })],
  ['resnet34', () => createUnet({ encoder: resnetEncoder('resnet34'), inputShape: [size, size, 3], seed: 1 })],
  ['seresnet34', () => createUnet({ encoder: resnetEncoder('seresnet34'), inputShape: [size, size, 3], seed: 1 })],
]
const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 3)
for (const [name, build] of encoders) {
  let model: tfl.LayersModel
  try {
    model = build()
  } catch (error) {
    console.log(`${name}: not built (${(error as Error).message.split('\n')[0]})`)
    continue
  }
  trainedLikeStatistics(model, 7)
  const plan = inferencePlan(model)
  const fast = await createInferenceModel(model)
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, fast.predict(x) as tf.Tensor))).dataSync()[0]!)
  const bn = model.layers.filter((l) => l.getClassName() === 'BatchNormalization').length
  const reasons = new Map<string, number>()
  for (const k of plan.keptBatchNorms) reasons.set(k.reason.replace(/'[^']*'/g, '…'), (reasons.get(k.reason.replace(/'[^']*'/g, '…')) ?? 0) + 1)
  const before = timePredict(model, x)
  const after = timePredict(fast, x)
  console.log(`${name}: ${model.layers.length} → ${fast.layers.length} layers; ${bn - plan.keptBatchNorms.length} of ${bn} batch norms folded, ${plan.folds.filter((f) => f.relu).length} ReLUs fused; max |difference| ${diff.toExponential(1)}`)
  for (const [reason, n] of reasons) console.log(`  kept ${n}: ${reason}`)
  console.log(`  prediction ${before.toFixed(3)} s → ${after.toFixed(3)} s (${((100 * (before - after)) / before).toFixed(0)}% less)`)
  model.dispose()
  fast.dispose()
}
process.exit(0)
