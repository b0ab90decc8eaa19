import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { createUnet } from '@unet/layers'
import { getLoss } from '@unet/losses'
import type { Batch, FitData, TrainingData, ValidationBatch } from './data'

/**
 * @internal Test fixtures: a tiny seeded U-Net and an in-memory dataset of 8×8 images whose masks are the bright
 * pixels, small enough that a few epochs take a second on the cpu backend.
 */
export function tinyModel(options: { dropout?: number; outputActivation?: 'sigmoid' | 'linear'; deepSupervision?: boolean } = {}): tfl.LayersModel {
  const model = createUnet({
    depth: 1,
    filters: 2,
    inputShape: [8, 8, 1],
    dropout: options.dropout ?? 0,
    batchNormMomentum: 0.9,
    outputActivation: options.outputActivation ?? 'sigmoid',
    deepSupervision: options.deepSupervision ?? false,
  }) as unknown as tfl.LayersModel
  // the same weights every time, whatever tfjs' unseeded initialisers drew
  tf.tidy(() => {
    model.weights.forEach((w, k) => {
      if (!/kernel/.test(w.originalName ?? w.name)) return
      const n = w.shape.reduce((a, b) => (a as number) * (b as number), 1) as number
      w.write(tf.tensor(Float32Array.from({ length: n }, (_, i) => (hash(k, i) - 0.5) * 0.8), w.shape as number[]))
    })
  })
  return model
}

export const tinyLoss = getLoss('bce_dice') as never as (a: unknown, b: unknown) => never

function hash(...parts: number[]): number {
  let h = 0x811c9dc5
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x01000193) >>> 0
    h ^= h >>> 15
  }
  return (h >>> 0) / 4294967296
}

/** An image and its mask: a bright square at a seeded place on a noisy background. */
function sample(i: number): { image: Float32Array; mask: Float32Array } {
  const image = new Float32Array(64)
  const mask = new Float32Array(64)
  const x0 = Math.floor(hash(i, 1) * 5)
  const y0 = Math.floor(hash(i, 2) * 5)
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const inside = x >= x0 && x < x0 + 3 && y >= y0 && y < y0 + 3
      image[y * 8 + x] = (inside ? 0.7 : 0.2) + 0.2 * hash(i, y, x)
      mask[y * 8 + x] = inside ? 1 : 0
    }
  }
  return { image, mask }
}

/** Train and validation sets of `count` and 4 images; batches are a pure function of (epoch, step), with a seeded flip. */
export function tinyData(count = 10): FitData {
  const train = Array.from({ length: count }, (_, i) => sample(i))
  const validation = Array.from({ length: 4 }, (_, i) => sample(1000 + i))
  const order = (epoch: number): number[] => Array.from({ length: count }, (_, i) => i).sort((a, b) => hash(epoch, a) - hash(epoch, b))
  const build = (idx: number[], flipSeed: number | null): Batch => {
    const x = new Float32Array(idx.length * 64)
    const y = new Float32Array(idx.length * 64)
    idx.forEach((s, k) => {
      const flip = flipSeed !== null && hash(flipSeed, k) < 0.5
      for (let r = 0; r < 8; r++) {
        for (let c = 0; c < 8; c++) {
          const from = r * 8 + (flip ? 7 - c : c)
          x[k * 64 + r * 8 + c] = train[s]!.image[from] as number
          y[k * 64 + r * 8 + c] = train[s]!.mask[from] as number
        }
      }
    })
    return { x, y, count: idx.length }
  }
  const trainData: TrainingData = {
    count,
    inputShape: [8, 8, 1],
    batch: (epoch, step, batchSize) => build(order(epoch).slice(step * batchSize, (step + 1) * batchSize), epoch * 1000 + step),
    *plainBatches(epoch, batchSize) {
      const o = order(epoch + 7)
      for (let s = 0; s < o.length; s += batchSize) yield build(o.slice(s, s + batchSize), null)
    },
  }
  return {
    train: trainData,
    validation: {
      count: validation.length,
      *batches(batchSize): Generator<ValidationBatch> {
        for (let s = 0; s < validation.length; s += batchSize) {
          const part = validation.slice(s, s + batchSize)
          const x = new Float32Array(part.length * 64)
          const y = new Float32Array(part.length * 64)
          part.forEach((p, k) => {
            x.set(p.image, k * 64)
            y.set(p.mask, k * 64)
          })
          yield { x, y, count: part.length, truths: part.map((p) => Uint8Array.from(p.mask)), restore: (probs) => Float32Array.from(probs) }
        }
      },
    },
  }
}
