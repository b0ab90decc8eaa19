import { describe, expect, it } from 'vitest'
import { resolveUnetOptions, validInputSize } from './options'
import { UnetOptionError } from './errors'

function errorOf(fn: () => unknown): UnetOptionError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(UnetOptionError)
    return error as UnetOptionError
  }
  throw new Error('expected a UnetOptionError')
}

describe('resolveUnetOptions', () => {
  it('fills in the documented defaults', () => {
    expect(resolveUnetOptions()).toEqual({
      encoder: null,
      decoderFilters: [16, 32, 64, 128],
      seed: null,
      freezeUpTo: null,
      depth: 4,
      filters: 16,
      filterScaling: 2,
      batchNormMomentum: 0.99,
      dropout: [0, 0, 0, 0, 0],
      upsampling: 'transpose',
      inputShape: [128, 128, 1],
      classes: 1,
      outputActivation: 'sigmoid',
      name: 'unet',
      decoderAttention: 'none',
      hypercolumn: false,
      deepSupervision: false,
    })
  })

  it('spreads one dropout rate over every level and the bottleneck, and keeps a per-level list', () => {
    expect(resolveUnetOptions({ depth: 2, dropout: 0.25 }).dropout).toEqual([0.25, 0.25, 0.25])
    expect(resolveUnetOptions({ depth: 2, dropout: [0.1, 0.2, 0.5] }).dropout).toEqual([0.1, 0.2, 0.5])
  })

  it('keeps null batch-norm momentum as "no batch norm"', () => {
    expect(resolveUnetOptions({ batchNormMomentum: null }).batchNormMomentum).toBeNull()
  })

  it.each([
    ['depth', { depth: 0 }, 'an integer from 1 to 8'],
    ['depth', { depth: 2.5 }, 'an integer from 1 to 8'],
    ['depth', { depth: 9 }, 'an integer from 1 to 8'],
    ['filters', { filters: 0 }, 'a positive integer'],
    ['filters', { filters: 3.5 }, 'a positive integer'],
    ['filterScaling', { filterScaling: 0.5 }, 'a number from 1 to 4'],
    ['filterScaling', { filterScaling: Number.NaN }, 'a number from 1 to 4'],
    ['batchNormMomentum', { batchNormMomentum: 1 }, 'between 0 and 1'],
    ['batchNormMomentum', { batchNormMomentum: 0 }, 'between 0 and 1'],
    ['dropout', { dropout: 1 }, '[0, 1)'],
    ['dropout', { dropout: -0.1 }, '[0, 1)'],
    ['dropout', { depth: 2, dropout: [0.1, 0.1] }, 'an array of 3 rates'],
    ['dropout', { dropout: [0.1, 0.1, 0.1, 0.1, 2] }, '[0, 1)'],
    ['upsampling', { upsampling: 'nearest' }, `'transpose' or 'bilinear'`],
    ['classes', { classes: 0 }, 'a positive integer'],
    ['outputActivation', { outputActivation: 'softmax' }, `'sigmoid' or 'linear'`],
    ['inputShape', { inputShape: [128, 128] }, '[height, width, channels]'],
    ['inputShape', { inputShape: [128, 128, 0] }, '[height, width, channels]'],
    ['name', { name: '1 bad name' }, 'starting with a letter'],
    ['decoderFilters', { depth: 2, decoderFilters: [4, 8, 16] }, '2 positive integers'],
    ['seed', { seed: -1 }, 'a non-negative integer'],
    ['seed', { seed: 1.5 }, 'a non-negative integer'],
    ['decoderAttention', { decoderAttention: 'se' }, `'none' or 'scse'`],
    ['hypercolumn', { hypercolumn: 'yes' }, 'true or false'],
    ['deepSupervision', { deepSupervision: 1 }, 'true or false'],
  ] as const)('refuses a bad %s (%j), naming it and its valid range', (option, options, range) => {
    const error = errorOf(() => resolveUnetOptions(options as never))
    expect(error.code).toBe('INVALID_OPTION')
    expect(error.option).toBe(option)
    expect(error.message).toContain(`"${option}"`)
    expect(error.message).toContain(range)
  })

  it('refuses an input size the pooling cannot halve depth times, giving the nearest padded size', () => {
    const error = errorOf(() => resolveUnetOptions({ inputShape: [101, 101, 1] }))
    expect(error.code).toBe('INPUT_NOT_DIVISIBLE')
    expect(error.option).toBe('inputShape')
    expect(error.message).toMatch(/height 101 is not divisible by 2\^4 = 16/)
    expect(error.message).toContain('[112, 112, 1]')
    const wide = errorOf(() => resolveUnetOptions({ depth: 3, inputShape: [64, 100, 3] }))
    expect(wide.message).toMatch(/width 100 is not divisible by 2\^3 = 8/)
    expect(wide.message).toContain('[64, 104, 3]')
  })

  it('accepts any size divisible by 2^depth, square or not', () => {
    expect(resolveUnetOptions({ depth: 5, inputShape: [96, 160, 3] }).inputShape).toEqual([96, 160, 3])
  })
})

describe('validInputSize', () => {
  it('rounds up to the next multiple of 2^depth', () => {
    expect(validInputSize(101, 4)).toBe(112)
    expect(validInputSize(101, 5)).toBe(128)
    expect(validInputSize(128, 4)).toBe(128)
    expect(validInputSize(3, 3)).toBe(8)
  })
})
