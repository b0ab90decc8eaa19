import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { initBackend } from '@unet/runtime'
import { beforeAll, describe, expect, it } from 'vitest'
import { getLoss, LOSS_INPUTS, lossNames, type LossName } from './registry'
import { expectNoTensorLeaks, seededRandom } from './test-utils'

beforeAll(async () => {
  await tf.setBackend('cpu')
})
expectNoTensorLeaks()

const SHAPE = [3, 8, 8, 1]
const SIZE = 3 * 64
const random = seededRandom(99)
// the last image has no salt
const truth = Array.from({ length: SIZE }, (_, i) => (i < 2 * 64 && random() < 0.4 ? 1 : 0))
const probabilities = Array.from({ length: SIZE }, () => 0.02 + 0.96 * random())
const logits = Array.from({ length: SIZE }, () => random() * 8 - 4)

function valueAndGradient(name: string): { value: number; gradient: number[] } {
  const onLogits = LOSS_INPUTS[name as LossName] === 'logits'
  return tf.tidy(() => {
    const y = tf.tensor(truth, SHAPE)
    const { value, grad } = tf.valueAndGrad((p: tf.Tensor) => getLoss(name)(y, p))(tf.tensor(onLogits ? logits : probabilities, SHAPE))
    return { value: value.dataSync()[0]!, gradient: Array.from(grad.dataSync()) }
  })
}

describe('the wasm backend (with @unet/runtime training kernels) computes what the cpu backend does', () => {
  it('for every loss, value and gradient', async () => {
    const onCpu = new Map(lossNames.map((name) => [name, valueAndGradient(name)]))
    const { backend } = await initBackend({ backend: 'wasm' })
    expect(backend).toBe('wasm')
    for (const name of lossNames) {
      const cpu = onCpu.get(name)!
      const wasm = valueAndGradient(name)
      expect(wasm.value, name).toBeCloseTo(cpu.value, 5)
      const worst = Math.max(...wasm.gradient.map((g, i) => Math.abs(g - cpu.gradient[i]!)))
      expect(worst, name).toBeLessThan(1e-6)
      expect(cpu.gradient.some((g) => g !== 0), name).toBe(true)
    }
  })
})
