/**
 * @unet/data-tgs benchmark: how fast the TGS data path is, and how learnable the synthetic data is.
 *
 *   pnpm --filter @unet/bench exec tsx data-tgs.ts            # data path: generate, write, read, batch (4,000 images)
 *   pnpm --filter @unet/bench exec tsx data-tgs.ts --learn    # instead: train a small U-Net briefly, compare with baselines
 *
 * Prints figures, asserts nothing. Options: --count N (train images, default 4000), --learn-epochs N, --learn-train N.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import {
  type TgsSample,
  compose,
  createBatches,
  fromModelSize,
  generateSyntheticTgs,
  horizontalFlip,
  oneOf,
  brightness,
  contrast,
  gamma,
  readTgsDataset,
  shiftScaleRotate,
  stratifiedSplit,
  toInputTensor,
  writeSyntheticTgs,
} from '@unet/data-tgs'

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const count = flag('--count', 4000)
const testCount = Math.round(count / 4)

let cpuStart = process.cpuUsage()

/** Starts a measurement: wall clock from the caller, CPU time (all threads of this process) from here. */
function startCpu(): void {
  cpuStart = process.cpuUsage()
}

/** Wall-clock rate, and the rate per CPU-second, which the other jobs on a shared machine disturb less. */
function rate(n: number, ms: number): string {
  const cpu = process.cpuUsage(cpuStart)
  const cpuS = (cpu.user + cpu.system) / 1e6
  return `${((n / ms) * 1000).toFixed(0)} images/s wall (${(ms / 1000).toFixed(2)} s for ${n}), ${(n / cpuS).toFixed(0)} per CPU-second`
}

async function dataPath(): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu')
  await tf.setBackend('cpu')
  console.log(`@unet/data-tgs data path, ${count} train + ${testCount} test images (2 shared cores: noisy figures)`)
  startCpu()
  let t = performance.now()
  const synthetic = generateSyntheticTgs({ trainCount: count, testCount: 0, seed: 1 })
  console.log(`generate (in memory)          ${rate(count, performance.now() - t)}`)

  const dir = await mkdtemp(join(tmpdir(), 'bench-data-tgs-'))
  try {
    startCpu()
    t = performance.now()
    await writeSyntheticTgs(dir, { trainCount: count, testCount, seed: 1 })
    console.log(`write Kaggle layout (PNG+CSV) ${rate(count + testCount, performance.now() - t)}`)

    startCpu()
    t = performance.now()
    const { train } = await readTgsDataset(dir, { test: false })
    const readMs = performance.now() - t
    console.log(`read + validate train         ${rate(train.length, readMs)}  (image + mask PNG decode, train.csv cross-check)`)

    for (const mode of ['resize', 'pad'] as const) {
      for (const augmented of [false, true]) {
        const augment = augmented
          ? compose([horizontalFlip(), shiftScaleRotate({ rotateLimit: 10 }), oneOf([brightness(), contrast(), gamma()], { p: 0.5 })])
          : undefined
        const batches = createBatches(train, { batchSize: 32, size: 128, mode, seed: 1, augment })
        startCpu()
        t = performance.now()
        let n = 0
        for await (const { xs, ys } of batches) {
          n += xs.shape[0]
          tf.dispose([xs, ys])
        }
        console.log(`batches 128 ${mode.padEnd(6)} ${augmented ? 'augmented' : 'plain    '}  ${rate(n, performance.now() - t)}`)
      }
    }
    void synthetic
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function imageScore(pred: Uint8Array, truth: Uint8Array): number {
  let inter = 0
  let union = 0
  for (let i = 0; i < pred.length; i++) {
    inter += pred[i]! & truth[i]!
    union += pred[i]! | truth[i]!
  }
  if (union === 0) return 1
  const iou = inter / union
  let hits = 0
  for (let k = 0; k < 10; k++) if (iou > 0.5 + 0.05 * k) hits++
  return hits / 10
}

function score(preds: Uint8Array[], samples: TgsSample[]): number {
  return preds.reduce((s, p, i) => s + imageScore(p, samples[i]!.mask), 0) / samples.length
}

/**
 * Best TGS score of `salt = pixel > t` or `salt = pixel < t` over every 8-bit level t: from per-image
 * histograms of salt and non-salt pixels, so all 2 × 256 rules cost one pass over the pixels.
 */
function bestThreshold(samples: TgsSample[]): { score: number; rule: string } {
  const hist = samples.map((s) => {
    const salt = new Int32Array(257)
    const rock = new Int32Array(257)
    s.image.forEach((v, i) => (s.mask[i] ? salt : rock)[Math.round(v * 255)]!++)
    // Cumulative: how many salt / rock pixels are at level < k.
    const cs = new Int32Array(258)
    const cr = new Int32Array(258)
    for (let k = 0; k < 257; k++) {
      cs[k + 1] = cs[k]! + salt[k]!
      cr[k + 1] = cr[k]! + rock[k]!
    }
    return { cs, cr, saltTotal: cs[257]!, rockTotal: cr[257]! }
  })
  let best = { score: -1, rule: '' }
  for (let k = 0; k <= 256; k++) {
    for (const below of [true, false]) {
      let total = 0
      for (const h of hist) {
        // Predicted salt: levels < k (below) or levels ≥ k (above).
        const tp = below ? h.cs[k]! : h.saltTotal - h.cs[k]!
        const fp = below ? h.cr[k]! : h.rockTotal - h.cr[k]!
        const fn = h.saltTotal - tp
        const union = tp + fp + fn
        if (union === 0) total += 1
        else {
          const iou = tp / union
          let hits = 0
          for (let j = 0; j < 10; j++) if (iou > 0.5 + 0.05 * j) hits++
          total += hits / 10
        }
      }
      const sc = total / samples.length
      if (sc > best.score) best = { score: sc, rule: `pixel ${below ? '<' : '≥'} ${(k / 255).toFixed(3)}` }
    }
  }
  return best
}

async function learn(): Promise<void> {
  const { createUnet } = await import('@unet/layers')
  const { getLoss } = await import('@unet/losses')
  const tfl = await import('@tensorflow/tfjs-layers')
  const { initBackend, registerWasmTrainingKernels } = await import('@unet/runtime')
  const info = await initBackend({ backend: (process.env.UNET_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm' })
  if (info.backend === 'wasm') registerWasmTrainingKernels()
  const trainN = flag('--learn-train', 1200)
  const epochs = flag('--learn-epochs', 6)
  const size = 64
  console.log(`\nlearnability: small U-Net (depth 3, 8 filters, ${size}×${size}) on ${trainN} synthetic images, ${epochs} epochs, backend ${info.backend}`)
  const { train: all } = generateSyntheticTgs({ trainCount: trainN + 400, testCount: 0, seed: 7 })
  const { train, validation } = stratifiedSplit(all, { validationFraction: 400 / (trainN + 400), seed: 7 })

  const empty = score(validation.map((s) => new Uint8Array(s.mask.length)), validation)
  const threshold = bestThreshold(validation)
  console.log(`validation (${validation.length} images): empty-mask baseline ${empty.toFixed(3)}, best single intensity threshold ${threshold.score.toFixed(3)} (${threshold.rule})`)

  const model = createUnet({ depth: 3, filters: 8, inputShape: [size, size, 1], dropout: 0 })
  model.compile({ optimizer: tf.train.adam(3e-3), loss: getLoss('bce_dice') as never })
  const batches = createBatches(train, { batchSize: 16, size, mode: 'resize', seed: 7, augment: horizontalFlip() })
  const started = performance.now()
  for (let e = 0; e < epochs; e++) {
    let loss = 0
    let steps = 0
    for await (const { xs, ys } of batches) {
      loss += Number(await model.trainOnBatch(xs, ys))
      steps++
      tf.dispose([xs, ys])
    }
    const preds: Uint8Array[] = []
    for (let i = 0; i < validation.length; i += 50) {
      const chunk = validation.slice(i, i + 50)
      const xs = toInputTensor(chunk, { size, mode: 'resize' })
      const out = model.predict(xs) as tf.Tensor
      const p = out.dataSync()
      chunk.forEach((s, b) => {
        const mask = fromModelSize(p.subarray(b * size * size, (b + 1) * size * size), s, { size, mode: 'resize', kind: 'mask' })
        // Tiny predicted areas are noise: call them empty (standard TGS post-processing).
        let area = 0
        for (const v of mask) area += v
        preds.push(area < 20 ? new Uint8Array(mask.length) : mask)
      })
      tf.dispose([xs, out])
    }
    console.log(
      `epoch ${e + 1}: loss ${(loss / steps).toFixed(4)}, validation TGS score ${score(preds, validation).toFixed(3)} (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    )
  }
  void tfl
}

// One backend per process: the data path measures on cpu, learning runs on the fastest one present.
if (args.includes('--learn')) {
  await learn()
  // The wasm backend's worker threads would keep the process alive.
  process.exit(0)
} else await dataPath()
