import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { beforeAll, describe, expect, it } from 'vitest'
import { bceLoss } from './bce'
import { bceWithLogitsLoss } from './bce-logits'
import { bceDiceLoss } from './bce-dice'
import { diceLoss } from './dice'
import { focalLoss } from './focal'
import { jaccardLoss } from './jaccard'
import { lovaszHingeEluLoss, lovaszHingeLoss } from './lovasz'
import { getLoss, LOSS_INPUTS, lossNames } from './registry'
import { weightedLoss } from './weighted'
import { LossError } from './errors'
import { expectNoTensorLeaks, lossValue, seededRandom } from './test-utils'

beforeAll(async () => {
  await tf.setBackend('cpu')
})
expectNoTensorLeaks()

describe('hand-computed values', () => {
  it('bce: ln 2 at p = 0.5; clipped, finite at exactly 0 and 1', () => {
    expect(lossValue(bceLoss(), [1, 0], [0.5, 0.5])).toBeCloseTo(Math.LN2, 6)
    // −(ln 0.9 + ln 0.8)/4, the right answers at 1 and 0 cost −ln(1 − 1e-7) ≈ 1.2e-7 each
    expect(lossValue(bceLoss(), [1, 0, 1, 0], [0.9, 0.2, 1, 0])).toBeCloseTo((0.1053605 + 0.2231436) / 4, 5)
    // a wrong answer at exactly 0 costs −ln(1e-7) = 16.118, not Infinity
    expect(lossValue(bceLoss(), [1], [0])).toBeCloseTo(16.118, 2)
  })

  it('bce_logits: ln 2 at logit 0; exact and finite at ±100', () => {
    expect(lossValue(bceWithLogitsLoss(), [1], [0])).toBeCloseTo(Math.LN2, 6)
    expect(lossValue(bceWithLogitsLoss(), [0], [100])).toBeCloseTo(100, 4)
    expect(lossValue(bceWithLogitsLoss(), [1], [100])).toBeCloseTo(0, 12)
    expect(lossValue(bceWithLogitsLoss(), [0], [-100])).toBeCloseTo(0, 12)
    expect(lossValue(bceWithLogitsLoss(), [1], [-100])).toBeCloseTo(100, 4)
    // logit 2, truth 0: ln(1 + e^2) = 2.126928
    expect(lossValue(bceWithLogitsLoss(), [0], [2])).toBeCloseTo(2.126928, 5)
  })

  it('dice: 1 − (2·1.5 + 1)/(2 + 2 + 1) = 0.2; batch-wide by default, per image when asked', () => {
    expect(lossValue(diceLoss(), [1, 1, 0, 0], [1, 0.5, 0.5, 0])).toBeCloseTo(0.2, 6)
    expect(lossValue(diceLoss({ smooth: 0 }), [1, 1, 0, 0], [1, 0.5, 0.5, 0])).toBeCloseTo(0.25, 6)
    const y = [1, 1, 0, 0]
    const p = [1, 1, 1, 1]
    // image 1 perfect (0), image 2 empty truth, two false positives: 1 − 1/3; batch: 1 − 5/7
    expect(lossValue(diceLoss({ perImage: true }), y, p, [2, 2])).toBeCloseTo(1 / 3, 6)
    expect(lossValue(diceLoss(), y, p, [2, 2])).toBeCloseTo(2 / 7, 6)
  })

  it('jaccard: 1 − (1.5 + 1)/(2 + 2 − 1.5 + 1) = 2/7; per image when asked', () => {
    expect(lossValue(jaccardLoss(), [1, 1, 0, 0], [1, 0.5, 0.5, 0])).toBeCloseTo(2 / 7, 6)
    expect(lossValue(jaccardLoss({ smooth: 0 }), [1, 1, 0, 0], [1, 0.5, 0.5, 0])).toBeCloseTo(0.4, 6)
    // image 1: 0; image 2: 1 − 1/(2 + 1)
    expect(lossValue(jaccardLoss({ perImage: true }), [1, 1, 0, 0], [1, 1, 1, 1], [2, 2])).toBeCloseTo(1 / 3, 6)
  })

  it('bce_dice: weighted sum of ln 2 and 1 − 2/3', () => {
    expect(lossValue(bceDiceLoss(), [1, 0], [0.5, 0.5])).toBeCloseTo(Math.LN2 + 1 / 3, 6)
    expect(lossValue(bceDiceLoss({ bceWeight: 0.5, diceWeight: 2 }), [1, 0], [0.5, 0.5])).toBeCloseTo(0.5 * Math.LN2 + 2 / 3, 6)
    expect(lossValue(bceDiceLoss({ smooth: 0 }), [1, 0], [0.5, 0.5])).toBeCloseTo(Math.LN2 + 0.5, 6)
  })

  it('focal: −α_t (1 − p_t)^γ ln p_t', () => {
    // salt at p 0.5: 0.25·0.25·ln 2 = 0.0433217; background at p 0.9: 0.75·0.81·ln 10 = 1.3988204
    expect(lossValue(focalLoss(), [1], [0.5])).toBeCloseTo(0.0433217, 6)
    expect(lossValue(focalLoss(), [0], [0.9])).toBeCloseTo(1.3988204, 5)
    expect(lossValue(focalLoss(), [1, 0], [0.5, 0.9])).toBeCloseTo((0.0433217 + 1.3988204) / 2, 5)
    // gamma 0 and alpha 0.5 is half the BCE
    expect(lossValue(focalLoss({ gamma: 0, alpha: 0.5 }), [1, 0], [0.5, 0.9])).toBeCloseTo(0.5 * ((Math.LN2 + Math.log(10)) / 2), 5)
  })

  it('lovasz_hinge: sorted hinge errors weighted by the Jaccard increments, per image', () => {
    // logits [2, −1, 0.5], truth [1, 0, 0]: errors [−1, 0, 1.5]; sorted truth [0, 0, 1];
    // prefix Jaccard losses [1/2, 2/3, 1] → increments [1/2, 1/6, 1/3]; loss 1.5·1/2 = 0.75
    expect(lossValue(lovaszHingeLoss(), [1, 0, 0], [2, -1, 0.5])).toBeCloseTo(0.75, 6)
    // elu + 1: 2.5·1/2 + 1·1/6 + e^−1·1/3
    expect(lossValue(lovaszHingeEluLoss(), [1, 0, 0], [2, -1, 0.5])).toBeCloseTo(1.25 + 1 / 6 + Math.exp(-1) / 3, 5)
    // an image with no salt pays its worst false positive only: errors [−1, 2] → 2
    expect(lossValue(lovaszHingeLoss(), [0, 0], [-2, 1])).toBeCloseTo(2, 6)
    expect(lossValue(lovaszHingeEluLoss(), [0, 0], [-2, 1])).toBeCloseTo(3, 5)
    // per image: mean of the two images' losses, not the loss of their pixels pooled
    expect(lossValue(lovaszHingeLoss(), [1, 0, 0, 0, 0, 0], [2, -1, 0.5, -2, 1, -5], [2, 3])).toBeCloseTo((0.75 + 2) / 2, 6)
  })

  it('lovasz_hinge matches a plain re-implementation of the per-image reference on random batches', () => {
    const random = seededRandom(7)
    const shape = [3, 4, 5, 1]
    const n = 20
    const y = Array.from({ length: 3 * n }, (_, i) => (i >= 2 * n ? 0 : random() < 0.4 ? 1 : 0))
    const x = Array.from({ length: 3 * n }, () => random() * 6 - 3)
    for (const [loss, hinge] of [
      [lovaszHingeLoss(), (e: number) => Math.max(e, 0)],
      [lovaszHingeEluLoss(), (e: number) => (e > 0 ? e + 1 : Math.exp(e))],
    ] as const) {
      let expected = 0
      for (let b = 0; b < 3; b++) expected += referenceLovasz(y.slice(b * n, (b + 1) * n), x.slice(b * n, (b + 1) * n), hinge) / 3
      expect(lossValue(loss, y, x, shape)).toBeCloseTo(expected, 4)
    }
  })

  it('weightedLoss sums its terms with their weights, by name or function', () => {
    const loss = weightedLoss([
      { loss: 'bce', weight: 0.5 },
      { loss: diceLoss(), weight: 2 },
      { loss: (y, p) => tf.mean(tf.abs(tf.sub(y, p))), weight: 1 },
    ])
    expect(lossValue(loss, [1, 0], [0.5, 0.5])).toBeCloseTo(0.5 * Math.LN2 + 2 / 3 + 0.5, 6)
  })
})

describe('empty masks', () => {
  it.each(lossNames)('%s gives a finite value and gradient when truth and prediction are both empty', (name) => {
    const onLogits = LOSS_INPUTS[name] === 'logits'
    const y = tf.zeros([2, 4, 4, 1])
    const p = onLogits ? tf.fill([2, 4, 4, 1], -10) : tf.zeros([2, 4, 4, 1])
    const loss = getLoss(name)
    const { value, grad } = tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad((q: tf.Tensor) => loss(y, q))(p)
      return { value: value.dataSync()[0]!, grad: Array.from(grad.dataSync()) }
    })
    tf.dispose([y, p])
    expect(Number.isFinite(value)).toBe(true)
    expect(value).toBeGreaterThanOrEqual(0)
    expect(value).toBeLessThan(1e-3)
    expect(grad.every(Number.isFinite)).toBe(true)
  })
})

describe('shape checks', () => {
  it('refuses a truth whose size differs from the prediction, naming both shapes', () => {
    const y = tf.zeros([2, 4, 4, 1])
    const p = tf.zeros([2, 8, 8, 1])
    try {
      expect(() => diceLoss()(y, p)).toThrow(LossError)
      expect(() => diceLoss()(y, p)).toThrow(/\[2, 4, 4, 1\].*\[2, 8, 8, 1\]/)
    } finally {
      tf.dispose([y, p])
    }
  })

  it('accepts integer masks', () => {
    const value = tf.tidy(() => bceLoss()(tf.tensor([1, 0], [1, 2], 'int32'), tf.tensor([0.5, 0.5], [1, 2])).dataSync()[0]!)
    expect(value).toBeCloseTo(Math.LN2, 6)
  })
})

/** Berman et al.'s lovasz_hinge_flat for one image, in float64. */
function referenceLovasz(labels: number[], logits: number[], hinge: (e: number) => number): number {
  const errors = logits.map((x, i) => 1 - x * (2 * labels[i]! - 1))
  const order = errors.map((_, i) => i).sort((a, b) => errors[b]! - errors[a]!)
  const gts = labels.reduce((a, b) => a + b, 0)
  let cumTruth = 0
  let cumBackground = 0
  let previous = 0
  let loss = 0
  for (const i of order) {
    cumTruth += labels[i]!
    cumBackground += 1 - labels[i]!
    const jaccard = 1 - (gts - cumTruth) / (gts + cumBackground)
    loss += hinge(errors[i]!) * (jaccard - previous)
    previous = jaccard
  }
  return loss
}
