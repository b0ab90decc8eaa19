// Trains tiny runs on synthetic data (a TGS-like grey run, padded to 128×128; the same with deep supervision,
// whose "has mask" classifier empties images it calls empty; an RGB run, letterboxed to 96×64) and writes them
// with sample images, for screenshots and figures: masks that mean something show whether the overlay lines up.
// Usage: tsx scripts/demo-runs.ts [OUT=/tmp/unet-web-demo] [RUN…: tgs, deep, rgb; default all]
import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { createUnet, HAS_MASK_OUTPUT } from '@unet/layers'
import { initBackend } from '@unet/runtime'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import { prepareImage, type PrepareSpec } from '../src/prepare'
import { makeRun, rgbSample, tgsLikeSample, writePng, type FixtureRunOptions } from '../test/fixture'

const out = process.argv[2] ?? '/tmp/unet-web-demo'
const wanted = process.argv.length > 3 ? new Set(process.argv.slice(3)) : null
const info = await initBackend({ backend: 'wasm' })
console.log(`backend ${info.backend}`)

async function train(name: string, o: FixtureRunOptions, sample: (seed: number) => { image: Uint8Array; mask: Uint8Array; width: number; height: number }, count: number, epochs: number): Promise<void> {
  if (wanted && !wanted.has(name)) return
  const spec: PrepareSpec = { width: o.width, height: o.height, mode: o.mode, pad: o.pad ?? 'reflect' }
  const xs: Float32Array[] = []
  const ys: Float32Array[] = []
  for (let i = 0; i < count; i++) {
    const s = sample(1000 + i)
    xs.push(prepareImage({ data: Float32Array.from(s.image, (v) => v / 255), width: s.width, height: s.height, channels: o.channels }, { ...o }, spec))
    ys.push(prepareImage({ data: Float32Array.from(s.mask), width: s.width, height: s.height, channels: 1 }, { width: o.width, height: o.height, channels: 1 }, spec).map((v) => (v > 0.5 ? 1 : 0)))
  }
  const join32 = (a: Float32Array[]) => {
    const all = new Float32Array(a.length * a[0]!.length)
    a.forEach((v, i) => all.set(v, i * v.length))
    return all
  }
  const x = tf.tensor4d(join32(xs), [count, o.height, o.width, o.channels])
  const y = tf.tensor4d(join32(ys), [count, o.height, o.width, 1])
  const deepSupervision = o.emptyThreshold !== undefined
  // a fast-moving batch-norm average: after a few dozen steps the moving statistics match the trained weights
  const model = createUnet({ depth: o.depth ?? 3, filters: o.filters ?? 8, inputShape: [o.height, o.width, o.channels], outputActivation: o.activation, batchNormMomentum: 0.5, deepSupervision })
  // deep supervision: every output learns, the classifier whether the mask is empty (outputs: mask, has_mask, auxiliary masks)
  const hasMask = deepSupervision ? tf.tensor2d(ys.map((m) => (m.some((v) => v > 0) ? 1 : 0)), [count, 1]) : null
  const targets = hasMask ? model.outputNames.map((n) => (n === HAS_MASK_OUTPUT ? hasMask : y)) : y
  // per image, so the mask losses (mean over pixels) add to the classifier's
  const maskLoss = (t: tf.Tensor, p: tf.Tensor): tf.Tensor => tf.mean(tfl.metrics.binaryCrossentropy(t, p), [1, 2])
  model.compile({
    optimizer: tf.train.adam(0.01),
    ...(hasMask
      ? { loss: model.outputNames.map((n) => (n === HAS_MASK_OUTPUT ? tfl.metrics.binaryCrossentropy : maskLoss)), lossWeights: model.outputNames.map((n) => (n === 'output' ? 1 : n === HAS_MASK_OUTPUT ? 0.2 : 0.1)) }
      : { loss: 'binaryCrossentropy' }),
  })
  const started = performance.now()
  await model.fit(x, targets, {
    epochs,
    batchSize: 16,
    shuffle: true,
    verbose: 0,
    callbacks: { onEpochEnd: async (epoch, logs) => console.log(`${name} epoch ${epoch + 1}/${epochs} loss ${logs?.loss?.toFixed(4)} (${((performance.now() - started) / 1000).toFixed(0)} s)`) },
  })
  tf.dispose([x, y, ...(hasMask ? [hasMask] : [])])
  await makeRun(join(out, name), o, model)
  model.dispose()
}

await mkdir(join(out, 'images'), { recursive: true })
await train(
  'tgs',
  { width: 128, height: 128, channels: 1, mode: 'pad', pad: 'reflect', activation: 'sigmoid', threshold: 0.5, order: 'column', layout: 'tgs', filters: 6 },
  (seed) => ({ ...tgsLikeSample(101, 101, seed), width: 101, height: 101 }),
  192,
  Number(process.env.EPOCHS ?? 8),
)
await train(
  'deep',
  { width: 128, height: 128, channels: 1, mode: 'pad', pad: 'reflect', activation: 'sigmoid', threshold: 0.5, order: 'column', layout: 'tgs', filters: 6, emptyThreshold: 0.5 },
  (seed) => ({ ...tgsLikeSample(101, 101, seed), width: 101, height: 101 }),
  192,
  Number(process.env.EPOCHS ?? 8),
)
await train(
  'rgb',
  { width: 96, height: 64, channels: 3, mode: 'letterbox', pad: 'constant', activation: 'sigmoid', threshold: 0.5, order: 'row', layout: 'carvana', filters: 8 },
  (seed) => {
    const width = 80 + (seed % 7) * 20
    const height = 60 + (seed % 5) * 15
    return { ...rgbSample(width, height, seed), width, height }
  },
  192,
  Number(process.env.EPOCHS ?? 8),
)
// sample images: TGS-like 101×101 PNGs, RGB PNG/JPEG/WebP of several sizes, one Carvana-sized JPEG
for (let i = 0; i < 12; i++) await writePng(join(out, 'images', `tgs_${String(i).padStart(2, '0')}.png`), tgsLikeSample(101, 101, 5000 + i).image, 101, 101, 1)
const sizes: [number, number, string][] = [[160, 100, 'png'], [120, 160, 'jpeg'], [200, 120, 'webp'], [1918, 1280, 'jpeg'], [300, 180, 'gif']]
for (const [i, [w, h, format]] of sizes.entries()) {
  const { image } = rgbSample(w, h, 7000 + i)
  const file = join(out, 'images', `car_${i}_${w}x${h}.${format === 'jpeg' ? 'jpg' : format}`)
  const s = sharp(Buffer.from(image), { raw: { width: w, height: h, channels: 3 } })
  await (format === 'png' ? s.png() : format === 'jpeg' ? s.jpeg({ quality: 92 }) : format === 'webp' ? s.webp({ quality: 92 }) : s.gif()).toFile(file)
}
console.log(`wrote ${[...(wanted ?? ['tgs', 'deep', 'rgb'])].map((n) => `${out}/${n}`).join(', ')} and ${out}/images`)
