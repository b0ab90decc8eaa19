// Small run folders and images made in code for the tests, the screenshots and the figures: a tiny U-Net from
// @unet/layers with fixed seeded weights, saved in the tfjs layers format, and a run.json per docs/run-format.md.
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { createUnet, HAS_MASK_OUTPUT } from '@unet/layers'
import { saveModel } from '@unet/runtime'
import { seededRandom } from '@unet/testing'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import type { ImagePixels } from '../src/prepare'

export interface FixtureRunOptions {
  width: number
  height: number
  channels: 1 | 3
  mode: 'resize' | 'pad' | 'letterbox'
  pad?: 'reflect' | 'constant'
  activation: 'sigmoid' | 'linear'
  threshold: number
  order: 'column' | 'row'
  layout: string
  depth?: number
  filters?: number
  seed?: number
  /**
   * A deep-supervision model (`unet train --deep-supervision`: a "has mask" classifier and auxiliary mask heads
   * beside the mask) and run.json's `emptyClassifier` at this threshold.
   */
  emptyThreshold?: number
  /** Model-size inputs (prepared as the run says) that the classifier is set to call empty and not empty. */
  classifierSamples?: { empty: Float32Array; full: Float32Array }
}

/**
 * Gives every weight a fixed value from a seeded stream (He-normal-like scale), so the model's outputs are
 * the same on every run; batch-norm variances stay positive.
 */
export function seedWeights(model: LayersModel, seed: number): void {
  const next = seededRandom(seed)
  for (const layer of model.layers) {
    const values = layer.getWeights().map((w, k) => {
      const name = layer.weights[k]!.name
      const n = w.size
      const data = new Float32Array(n)
      if (/moving_variance|gamma/.test(name)) for (let i = 0; i < n; i++) data[i] = 0.5 + next()
      else if (/moving_mean|beta|bias/.test(name)) for (let i = 0; i < n; i++) data[i] = (next() - 0.5) * 0.2
      else {
        const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1)
        const scale = Math.sqrt(6 / fanIn)
        for (let i = 0; i < n; i++) data[i] = (next() * 2 - 1) * scale
      }
      return tf.tensor(data, w.shape)
    })
    if (values.length > 0) layer.setWeights(values)
    tf.dispose(values)
  }
}

/**
 * Sets the output layer's kernel and bias so that, on `sample`, the pre-activation has spread 2 and its
 * median sits at the threshold's logit: seeded random weights alone give outputs all on one side.
 */
export function calibrateOutput(model: LayersModel, sample: Float32Array, threshold: number): void {
  const output = model.getLayer('output')
  const [h, w, c] = model.inputs[0]!.shape.slice(1) as number[]
  const features = tfl.model({ inputs: model.inputs, outputs: output.input as tfl.SymbolicTensor })
  const [kernel] = output.getWeights()
  const z = tf.tidy(() => {
    const f = features.predict(tf.tensor4d(sample, [1, h!, w!, c!])) as tf.Tensor4D
    return tf.conv2d(f, kernel as tf.Tensor4D, 1, 'same').dataSync() as Float32Array
  })
  const sorted = Float32Array.from(z).sort()
  const median = sorted[sorted.length >> 1]!
  const spread = (sorted[Math.floor(sorted.length * 0.9)]! - sorted[Math.floor(sorted.length * 0.1)]!) / 2 || 1
  const k = 2 / spread
  const logit = Math.log(threshold / (1 - threshold))
  const [newKernel, newBias] = tf.tidy(() => [tf.mul(kernel!, k), tf.tensor1d([logit - median * k])])
  output.setWeights([newKernel!, newBias!])
  tf.dispose([newKernel!, newBias!])
}

/**
 * Sets the "has mask" classifier's dense layer so that it calls `empty` empty and `full` not, each 2 logits away
 * from the threshold (probabilities 0.12 and 0.88 at 0.5): far enough that backends never disagree.
 */
export function calibrateClassifier(model: LayersModel, samples: { empty: Float32Array; full: Float32Array }, threshold: number): void {
  const [h, w, c] = model.inputs[0]!.shape.slice(1) as number[]
  const pooled = tfl.model({ inputs: model.inputs, outputs: model.getLayer(`${HAS_MASK_OUTPUT}_pool`).output as tfl.SymbolicTensor })
  const [empty, full] = tf.tidy(() => {
    const x = tf.concat([tf.tensor4d(samples.empty, [1, h!, w!, c!]), tf.tensor4d(samples.full, [1, h!, w!, c!])])
    return (pooled.predict(x) as tf.Tensor2D).arraySync()
  }) as [number[], number[]]
  const direction = full.map((v, i) => v - empty[i]!)
  const norm2 = direction.reduce((a, d) => a + d * d, 0) || 1
  const kernel = direction.map((d) => (4 * d) / norm2)
  const middle = kernel.reduce((a, k, i) => a + k * ((empty[i]! + full[i]!) / 2), 0)
  const weights = [tf.tensor2d(kernel, [kernel.length, 1]), tf.tensor1d([Math.log(threshold / (1 - threshold)) - middle])]
  model.getLayer(HAS_MASK_OUTPUT).setWeights(weights)
  tf.dispose(weights)
}

/**
 * Writes a run folder: best/model.json + shards and run.json (version 2).
 *
 * @returns the run.json object written
 */
export async function makeRun(dir: string, o: FixtureRunOptions, model?: LayersModel): Promise<Record<string, unknown>> {
  await tf.ready()
  const owned = !model
  const deepSupervision = o.emptyThreshold !== undefined
  const m = model ?? createUnet({ depth: o.depth ?? 2, filters: o.filters ?? 4, inputShape: [o.height, o.width, o.channels], outputActivation: o.activation, deepSupervision })
  if (owned) {
    seedWeights(m, o.seed ?? 7)
    const sample = (seed: number): Float32Array => Float32Array.from(o.channels === 1 ? tgsLikeImage(o.width, o.height, seed) : rgbImage(o.width, o.height, seed), (v) => v / 255)
    calibrateOutput(m, sample(99), o.threshold)
    if (deepSupervision) calibrateClassifier(m, o.classifierSamples ?? { empty: sample(98), full: sample(99) }, o.emptyThreshold!)
  }
  await mkdir(dir, { recursive: true })
  await saveModel(m, join(dir, 'best'))
  if (owned) m.dispose()
  const run = {
    format: 'unet-run',
    version: 2,
    model: 'best/model.json',
    input: { width: o.width, height: o.height, channels: o.channels },
    prepare: { mode: o.mode, ...(o.mode === 'resize' ? {} : { pad: o.pad ?? 'reflect' }), interpolation: 'bilinear' },
    scale: 'unit',
    output: { classes: 1, activation: o.activation },
    threshold: o.threshold,
    rle: { order: o.order, idColumn: o.layout === 'carvana' ? 'img' : 'id', idSuffix: o.layout === 'carvana' ? '.jpg' : '' },
    layout: o.layout,
    monitor: { name: 'val_dice', mode: 'max', best: 0.5, epoch: 1 },
    encoder: 'plain',
    ...(deepSupervision ? { emptyClassifier: { output: HAS_MASK_OUTPUT, threshold: o.emptyThreshold } } : {}),
  }
  await writeFile(join(dir, 'run.json'), JSON.stringify(run, null, 2))
  return run
}

/** A TGS-like grey image: layered "sediment" bands with a smooth salt body and noise, 8-bit, and its salt mask. */
export function tgsLikeSample(width: number, height: number, seed: number): { image: Uint8Array; mask: Uint8Array } {
  const next = seededRandom(seed)
  const image = new Uint8Array(width * height)
  const mask = new Uint8Array(width * height)
  const cx = width * (0.2 + 0.6 * next())
  const cy = height * (0.4 + 0.6 * next())
  const r = Math.min(width, height) * (next() < 0.2 ? 0 : 0.15 + 0.3 * next())
  const phase = next() * 10
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const band = 110 + 45 * Math.sin((y + 6 * Math.sin(x / 9 + phase)) / 4)
      const salt = Math.hypot(x - cx, (y - cy) * 1.3) < r
      mask[y * width + x] = salt ? 1 : 0
      const v = salt ? 70 + 15 * Math.sin(x / 3) * Math.sin(y / 5) : band
      image[y * width + x] = Math.max(0, Math.min(255, Math.round(v + (next() - 0.5) * 30)))
    }
  }
  return { image, mask }
}

/** {@link tgsLikeSample}'s image only. */
export function tgsLikeImage(width: number, height: number, seed: number): Uint8Array {
  return tgsLikeSample(width, height, seed).image
}

/** An RGB image of a few coloured rectangles and a yellow disc (the "object", its mask) on a gradient, 8-bit interleaved. */
export function rgbSample(width: number, height: number, seed: number): { image: Uint8Array; mask: Uint8Array } {
  const next = seededRandom(seed)
  const image = new Uint8Array(width * height * 3)
  const mask = new Uint8Array(width * height)
  const rects = Array.from({ length: 3 }, () => ({ x: next() * width, y: next() * height, w: (0.2 + 0.3 * next()) * width, h: (0.2 + 0.3 * next()) * height, c: [next() * 255, next() * 180, next() * 255] }))
  const dx = width * (0.25 + 0.5 * next())
  const dy = height * (0.25 + 0.5 * next())
  const dr = Math.min(width, height) * (0.12 + 0.15 * next())
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let c = [(x / width) * 120 + 40, (y / height) * 120 + 40, 90]
      for (const r of rects) if (x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h) c = r.c
      const inside = Math.hypot(x - dx, y - dy) < dr
      if (inside) c = [230, 200, 40]
      mask[y * width + x] = inside ? 1 : 0
      for (let k = 0; k < 3; k++) image[3 * (y * width + x) + k] = Math.max(0, Math.min(255, Math.round(c[k]! + (next() - 0.5) * 20)))
    }
  }
  return { image, mask }
}

/** {@link rgbSample}'s image only. */
export function rgbImage(width: number, height: number, seed: number): Uint8Array {
  return rgbSample(width, height, seed).image
}

/** Writes raw 8-bit pixels as a PNG (grey or RGB) with sharp, and returns them as the page's decoder sees them. */
export async function writePng(path: string, pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<ImagePixels> {
  await sharp(Buffer.from(pixels), { raw: { width, height, channels } }).png().toFile(path)
  return { data: Float32Array.from(pixels, (v) => v / 255), width, height, channels }
}
