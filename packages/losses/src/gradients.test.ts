import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { beforeAll, describe, expect, it } from 'vitest'
import { getLoss, LOSS_INPUTS, lossNames } from './registry'
import { weightedLoss } from './weighted'
import type { LossFunction } from './math'
import { expectNoTensorLeaks, seededRandom, shuffled } from './test-utils'

beforeAll(async () => {
  await tf.setBackend('cpu')
})
expectNoTensorLeaks()

const SHAPE = [2, 3, 4, 1]
const SIZE = 24

// Truth with salt in the first image and none in the second (an empty mask must not break gradients).
const random = seededRandom(42)
const truth = Array.from({ length: SIZE }, (_, i) => (i < SIZE / 2 && random() < 0.5 ? 1 : 0))
// Probabilities away from the clipping bounds.
const probabilities = Array.from({ length: SIZE }, () => 0.05 + 0.9 * random())
// Logits on a shuffled grid: hinge errors 1 ∓ x never tie and never sit within 0.03 of the hinge's kink,
// so central differences of ±1e-3 stay on one linear piece of the Lovasz loss.
const logits = shuffled(
  Array.from({ length: SIZE }, (_, k) => (k - SIZE / 2) * 0.3 + 0.07),
  random,
)

function checkGradient(loss: LossFunction, onLogits: boolean): void {
  const y = tf.tensor(truth, SHAPE)
  const base = onLogits ? logits : probabilities
  const h = onLogits ? 1e-3 : 1e-2
  try {
    const analytic = tf.tidy(() => Array.from(tf.grad((p: tf.Tensor) => loss(y, p))(tf.tensor(base, SHAPE)).dataSync()))
    const at = (values: number[]) => tf.tidy(() => loss(y, tf.tensor(values, SHAPE)).dataSync()[0]!)
    let largest = 0
    for (let i = 0; i < SIZE; i++) {
      const plus = [...base]
      const minus = [...base]
      plus[i]! += h
      minus[i]! -= h
      const numeric = (at(plus) - at(minus)) / (2 * h)
      largest = Math.max(largest, Math.abs(numeric))
      expect(Math.abs(analytic[i]! - numeric), `element ${i}: analytic ${analytic[i]} vs numeric ${numeric}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric))
    }
    // a check against an all-zero gradient would be vacuous
    expect(largest).toBeGreaterThan(1e-3)
  } finally {
    y.dispose()
  }
}

describe('gradients match central finite differences', () => {
  it.each(lossNames)('%s', (name) => {
    checkGradient(getLoss(name), LOSS_INPUTS[name] === 'logits')
  })

  it.each([
    ['dice per image', getLoss('dice', { perImage: true })],
    ['jaccard per image', getLoss('jaccard', { perImage: true })],
    ['focal, gamma 0.5', getLoss('focal', { gamma: 0.5, alpha: 0.7 })],
    ['bce_dice weighted', getLoss('bce_dice', { bceWeight: 0.3, diceWeight: 2 })],
    ['weighted bce + jaccard', weightedLoss([{ loss: 'bce', weight: 0.5 }, { loss: 'jaccard', weight: 1.5 }])],
  ] as const)('%s', (_, loss) => {
    checkGradient(loss, false)
  })

  it('weighted lovasz + bce_logits', () => {
    checkGradient(weightedLoss([{ loss: 'lovasz_hinge', weight: 1 }, { loss: 'bce_logits', weight: 0.5 }]), true)
  })
})
