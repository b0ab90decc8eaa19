import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { beforeAll, describe, expect, it } from 'vitest'
import { bceDiceLoss } from './bce-dice'
import { deepSupervisionLoss } from './deep-supervision'
import { LossError } from './errors'
import { expectNoTensorLeaks, seededRandom } from './test-utils'

beforeAll(async () => {
  await tf.setBackend('cpu')
})
expectNoTensorLeaks()

// three 2×2 one-class images: the middle one has an empty mask
const masks = [1, 0, 1, 1, /* empty */ 0, 0, 0, 0, 0, 1, 0, 0]
const predictions = [0.8, 0.3, 0.6, 0.9, 0.2, 0.7, 0.1, 0.4, 0.3, 0.6, 0.2, 0.1]
const hasMask = [0.9, 0.4, 0.7]
const shape: [number, number, number, number] = [3, 2, 2, 1]

describe('deepSupervisionLoss', () => {
  it('is the weighted sum of the segmentation loss on non-empty images, the classifier BCE and the auxiliary losses', () => {
    const loss = deepSupervisionLoss({ segmentation: 'bce_dice', classifierWeight: 0.5, auxiliaryWeight: 0.25 })
    const [value, terms, expected] = tf.tidy(() => {
      const y = tf.tensor4d(masks, shape)
      const p = tf.tensor4d(predictions, shape)
      const aux = tf.tensor4d(predictions.map((v) => 1 - v), shape)
      const outputs = { output: p, has_mask: tf.tensor2d(hasMask, [3, 1]), dec2_aux: aux }
      const t = loss.terms(y, outputs)
      const nonEmpty = tf.tensor1d([0, 2], 'int32')
      const seg = bceDiceLoss()(tf.gather(y, nonEmpty), tf.gather(p, nonEmpty)).dataSync()[0]!
      const auxSeg = bceDiceLoss()(tf.gather(y, nonEmpty), tf.gather(aux, nonEmpty)).dataSync()[0]!
      // classifier targets [1, 0, 1]
      const bce = -(Math.log(0.9) + Math.log(1 - 0.4) + Math.log(0.7)) / 3
      return [
        loss(y, outputs).dataSync()[0]!,
        { segmentation: t.segmentation.dataSync()[0]!, classifier: t.classifier.dataSync()[0]!, auxiliary: t.auxiliary.dataSync()[0]!, nonEmptyImages: t.nonEmptyImages },
        { segmentation: seg, classifier: 0.5 * bce, auxiliary: 0.25 * auxSeg },
      ]
    })
    expect(terms.nonEmptyImages).toBe(2)
    expect(terms.segmentation).toBeCloseTo(expected.segmentation, 5)
    expect(terms.classifier).toBeCloseTo(expected.classifier, 5)
    expect(terms.auxiliary).toBeCloseTo(expected.auxiliary, 5)
    expect(value).toBeCloseTo(expected.segmentation + expected.classifier + expected.auxiliary, 5)
  })

  it('ignores the mask prediction of an empty image: same value and gradient whatever it is', () => {
    const loss = deepSupervisionLoss({ segmentation: 'bce_dice', classifierWeight: 1, auxiliaryWeight: 0.1 })
    const run = (prediction: number[]) =>
      tf.tidy(() => {
        const y = tf.tensor4d(masks, shape)
        const c = tf.tensor2d(hasMask, [3, 1])
        const p = tf.tensor4d(prediction, shape)
        const { value, grad } = tf.valueAndGrad((q: tf.Tensor) => loss(y, { output: q, has_mask: c, dec2_aux: q }))(p)
        return { value: value.dataSync()[0]!, grad: Array.from(grad.dataSync()) }
      })
    const base = run(predictions)
    const otherEmpty = run(predictions.map((v, i) => (i >= 4 && i < 8 ? 0.99 - v : v)))
    expect(otherEmpty.value).toBe(base.value)
    expect(otherEmpty.grad).toEqual(base.grad)
    expect(base.grad.slice(4, 8)).toEqual([0, 0, 0, 0])
    // while a non-empty image's prediction does count
    const otherFull = run(predictions.map((v, i) => (i < 4 ? 0.99 - v : v)))
    expect(otherFull.value).not.toBeCloseTo(base.value, 3)
    expect(base.grad.slice(0, 4).every((g) => g !== 0)).toBe(true)
  })

  it('gives the classifier term only when every mask of the batch is empty', () => {
    const loss = deepSupervisionLoss()
    const t = tf.tidy(() => {
      const terms = loss.terms(tf.zeros([2, 2, 2, 1]), { output: tf.fill([2, 2, 2, 1], 0.7), has_mask: tf.tensor2d([0.2, 0.6], [2, 1]) })
      return [terms.segmentation.dataSync()[0]!, terms.classifier.dataSync()[0]!, terms.nonEmptyImages]
    })
    expect(t[0]).toBe(0)
    expect(t[1]).toBeCloseTo((0.05 * -(Math.log(0.8) + Math.log(0.4))) / 2, 6)
    expect(t[2]).toBe(0)
  })

  it('refuses bad options and outputs that are missing or do not fit, saying what to do', () => {
    expect(() => deepSupervisionLoss({ classifierWeight: -1 })).toThrow(/"classifierWeight" is -1/)
    expect(() => deepSupervisionLoss({ clsWeight: 1 } as never)).toThrow(/no option "clsWeight"/)
    expect(() => deepSupervisionLoss({ segmentation: 'nope' as never })).toThrow(LossError)
    const loss = deepSupervisionLoss()
    tf.tidy(() => {
      const y = tf.tensor4d(masks, shape)
      expect(() => loss(y, { output: tf.tensor4d(predictions, shape) })).toThrow(/needs the outputs "output" and "has_mask".*deepSupervision: true/)
      expect(() => loss(y, { output: tf.tensor4d(predictions, shape), has_mask: tf.zeros([3, 2]) })).toThrow(/expected \[3, 1\]/)
    })
  })
})
