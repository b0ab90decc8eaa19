import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'
import { convBlock, decoderStage, encoderStage } from './blocks'
import { UnetOptionError } from './errors'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('blocks', () => {
  it('assemble into a custom two-level network with readable names and the expected shapes', () => {
    const input = tfl.input({ shape: [32, 32, 3] })
    const stem = convBlock(input, { filters: 4, name: 'stem', kernelSize: 5, batchNormMomentum: null })
    expect(stem.shape).toEqual([null, 32, 32, 4])
    const one = encoderStage(stem, { level: 1, filters: 8, dropout: 0.1 })
    expect(one.skip.shape).toEqual([null, 32, 32, 8])
    expect(one.output.shape).toEqual([null, 16, 16, 8])
    const deep = convBlock(one.output, { filters: 16, name: 'middle' })
    const up = decoderStage(deep, one.skip, { level: 1, filters: 8, dropout: 0.2 })
    expect(up.shape).toEqual([null, 32, 32, 8])
    const model = tfl.model({ inputs: input, outputs: up })
    try {
      const names = model.layers.map((l) => l.name)
      expect(names).toEqual(
        expect.arrayContaining(['stem_conv1', 'stem_relu2', 'enc1_conv2', 'enc1_bn2', 'enc1_pool', 'enc1_drop', 'middle_bn1', 'dec1_up', 'dec1_concat', 'dec1_drop', 'dec1_relu2']),
      )
      expect(names).not.toContain('stem_bn1')
      expect(model.getLayer('stem_conv1').getWeights()[0]!.shape).toEqual([5, 5, 3, 4])
      expect(model.getLayer('dec1_up').getWeights()[0]!.shape).toEqual([2, 2, 8, 16])
    } finally {
      model.dispose()
    }
  })

  it('refuse bad block options, naming the option', () => {
    const input = tfl.input({ shape: [8, 8, 1] })
    const cases: Array<[() => unknown, string]> = [
      [() => convBlock(input, { filters: 0, name: 'a' }), 'filters'],
      [() => convBlock(input, { filters: 2, name: 'b', kernelSize: 1.5 }), 'kernelSize'],
      [() => convBlock(input, { filters: 2, name: 'c', batchNormMomentum: 2 }), 'batchNormMomentum'],
      [() => encoderStage(input, { level: 0, filters: 2 }), 'level'],
      [() => encoderStage(input, { level: 1, filters: 2, dropout: 1 }), 'dropout'],
      [() => decoderStage(input, input, { level: 1, filters: 2, upsampling: 'nearest' as never }), 'upsampling'],
    ]
    for (const [build, option] of cases) {
      let caught: unknown
      try {
        build()
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(UnetOptionError)
      expect((caught as UnetOptionError).option).toBe(option)
      expect((caught as UnetOptionError).message).toContain(`"${option}"`)
    }
  })
})
