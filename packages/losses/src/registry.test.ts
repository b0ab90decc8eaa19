import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { beforeAll, describe, expect, it } from 'vitest'
import { getLoss, isLossName, LOSS_INPUTS, lossFor, lossFromSpec, lossNames } from './registry'
import { weightedLoss } from './weighted'
import { LossError } from './errors'
import { expectNoTensorLeaks, lossValue } from './test-utils'

beforeAll(async () => {
  await tf.setBackend('cpu')
})
expectNoTensorLeaks()

function errorOf(fn: () => unknown): LossError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(LossError)
    return error as LossError
  }
  throw new Error('expected a LossError')
}

describe('registry', () => {
  it('knows the nine losses by name', () => {
    expect(lossNames).toEqual(['bce', 'bce_logits', 'dice', 'bce_dice', 'jaccard', 'focal', 'lovasz_hinge', 'lovasz_hinge_elu', 'lovasz_hinge_symmetric'])
    for (const name of lossNames) {
      const loss = getLoss(name)
      expect(loss.lossName).toBe(name)
      expect(loss.name).toBe(name)
      expect(loss.spec?.name).toBe(name)
      expect(isLossName(name)).toBe(true)
    }
    expect(isLossName('toString')).toBe(false)
  })

  it('refuses an unknown name, listing the valid ones', () => {
    const error = errorOf(() => getLoss('lovasz'))
    expect(error.code).toBe('UNKNOWN_LOSS')
    expect(error.message).toContain('"lovasz"')
    for (const name of lossNames) expect(error.message).toContain(`'${name}'`)
    expect(errorOf(() => getLoss('constructor')).code).toBe('UNKNOWN_LOSS')
  })

  it('passes options through and refuses bad or unknown ones, naming them', () => {
    expect(lossValue(getLoss('dice', { smooth: 0 }), [1, 1, 0, 0], [1, 0.5, 0.5, 0])).toBeCloseTo(0.25, 6)
    const cases: Array<[() => unknown, RegExp]> = [
      [() => getLoss('dice', { smooth: -1 }), /"dice": option "smooth" is -1; it must be a number from 0/],
      [() => getLoss('dice', { perImage: 'yes' } as never), /option "perImage" is "yes"; it must be true or false/],
      [() => getLoss('jaccard', { smoth: 1 } as never), /"jaccard" has no option "smoth"; its options are "smooth", "perImage"/],
      [() => getLoss('focal', { alpha: 1.5 }), /option "alpha" is 1.5; it must be a number from 0 to 1/],
      [() => getLoss('focal', { gamma: -1 }), /option "gamma" is -1/],
      [() => getLoss('bce_dice', { bceWeight: Number.NaN }), /option "bceWeight" is null/],
      [() => getLoss('bce', { epsilon: 1 } as never), /"bce" has no option "epsilon"; its options are none/],
      [() => getLoss('lovasz_hinge', { perImage: false } as never), /"lovasz_hinge" has no option "perImage"/],
    ]
    for (const [make, message] of cases) {
      const error = errorOf(make)
      expect(error.code).toBe('INVALID_OPTION')
      expect(error.message).toMatch(message)
    }
  })

  it('rebuilds every loss from its JSON spec with the same value', () => {
    const y = [1, 0, 1, 1, 0, 0]
    const p = [0.9, 0.3, 0.6, 0.8, 0.1, 0.4]
    const losses = [
      ...lossNames.map((name) => getLoss(name)),
      getLoss('focal', { alpha: 0.6, gamma: 1 }),
      getLoss('dice', { perImage: true, smooth: 0.5 }),
      weightedLoss([{ loss: 'bce', weight: 0.25 }, { loss: getLoss('lovasz_hinge_elu'), weight: 2 }]),
    ]
    for (const loss of losses) {
      const spec = JSON.parse(JSON.stringify(loss.spec))
      const rebuilt = lossFromSpec(spec)
      expect(rebuilt.spec).toEqual(loss.spec)
      expect(lossValue(rebuilt, y, p, [2, 3])).toBe(lossValue(loss, y, p, [2, 3]))
    }
    expect(errorOf(() => lossFromSpec({ name: 'nope' })).code).toBe('UNKNOWN_LOSS')
    expect(errorOf(() => lossFromSpec({ name: 'weighted' })).code).toBe('INVALID_OPTION')
  })

  it('weightedLoss keeps no spec when a term is a user function, and refuses bad terms', () => {
    expect(weightedLoss([{ loss: (y, p) => tf.sub(y, p), weight: 1 }]).spec).toBeUndefined()
    expect(errorOf(() => weightedLoss([])).code).toBe('INVALID_OPTION')
    expect(errorOf(() => weightedLoss([{ loss: 'bce', weight: -1 }])).message).toMatch(/term 0: weight is -1/)
    expect(errorOf(() => weightedLoss([{ loss: 'bce', weight: 1 }, { loss: 'nope' as never, weight: 1 }])).code).toBe('UNKNOWN_LOSS')
    expect(errorOf(() => weightedLoss([{ loss: 42 as never, weight: 1 }])).message).toMatch(/term 0: loss must be/)
  })

  it('hides its name and spec from tfjs-layers, which reads enumerable properties of a loss as output names', () => {
    expect(Object.keys(getLoss('dice'))).toEqual([])
  })
})

describe('LOSS_INPUTS and lossFor', () => {
  it('declares what every registry loss takes', () => {
    expect(Object.keys(LOSS_INPUTS).sort()).toEqual([...lossNames].sort())
    expect(lossNames.filter((n) => LOSS_INPUTS[n] === 'logits')).toEqual(['bce_logits', 'lovasz_hinge', 'lovasz_hinge_elu', 'lovasz_hinge_symmetric'])
  })

  it('gives a probability loss a sigmoid on a logit model, and refuses a logit loss on a probability model', () => {
    const y = [1, 0, 1, 0]
    const logits = [2, -1, 0.5, -3]
    const p = logits.map((x) => 1 / (1 + Math.exp(-x)))
    expect(lossValue(lossFor('bce_dice', 'logits'), y, logits, [1, 2, 2, 1])).toBeCloseTo(lossValue(getLoss('bce_dice'), y, p, [1, 2, 2, 1]), 5)
    expect(lossValue(lossFor('lovasz_hinge', 'logits'), y, logits, [1, 2, 2, 1])).toBeCloseTo(lossValue(getLoss('lovasz_hinge'), y, logits, [1, 2, 2, 1]), 6)
    expect(() => lossFor('lovasz_hinge', 'probabilities')).toThrow(/takes logits/)
    expect(() => lossFor('nope', 'logits')).toThrow(/valid names/)
  })
})

describe('lovasz_hinge_symmetric', () => {
  it('is the mean of the Lovasz hinge on the mask and on its complement, and charges every false positive of an empty image', () => {
    const y = [1, 0, 1, 0]
    const x = [2, -1, 0.5, 3]
    const shape = [1, 2, 2, 1]
    const direct = lossValue(getLoss('lovasz_hinge'), y, x, shape)
    const complement = lossValue(getLoss('lovasz_hinge'), y.map((v) => 1 - v), x.map((v) => -v), shape)
    expect(lossValue(getLoss('lovasz_hinge_symmetric'), y, x, shape)).toBeCloseTo((direct + complement) / 2, 6)
    // an empty mask: the plain hinge sees only the most confident false positive, the symmetric one both
    const one = lossValue(getLoss('lovasz_hinge_symmetric'), [0, 0, 0, 0], [3, -5, -5, -5], shape)
    const two = lossValue(getLoss('lovasz_hinge_symmetric'), [0, 0, 0, 0], [3, 3, -5, -5], shape)
    expect(lossValue(getLoss('lovasz_hinge'), [0, 0, 0, 0], [3, -5, -5, -5], shape)).toBeCloseTo(lossValue(getLoss('lovasz_hinge'), [0, 0, 0, 0], [3, 3, -5, -5], shape), 6)
    expect(two).toBeGreaterThan(one)
  })
})
