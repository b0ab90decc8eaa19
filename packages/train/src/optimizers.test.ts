import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkOptimizer, createOptimizer, disposeOptimizer, getLearningRate, restoreOptimizerState, saveOptimizerState, setLearningRate, type OptimizerSpec } from './optimizers'

/** Takes `n` steps on a small quadratic and returns the variable. */
function steps(optimizer: tf.Optimizer, v: tf.Variable, n: number, from = 0): void {
  for (let i = from; i < from + n; i++) {
    optimizer.minimize(() => tf.sum(tf.square(tf.sub(v, tf.scalar(i % 3)))) as tf.Scalar, false, [v])
  }
}

describe('optimizer state', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('tfjs Adam’s own setWeights does not restore β1ᵗ exactly at some step (the cause of F4) — ours does at every step', async () => {
    let naiveDiffers = 0
    for (let n = 1; n <= 40; n++) {
      const v = tf.variable(tf.tensor1d([0.5, -1, 2]))
      const a = createOptimizer({ name: 'adam', learningRate: 0.01 })
      steps(a, v, n)
      const running = (a as unknown as { accBeta1: tf.Variable }).accBeta1.dataSync()[0]
      const saved = await saveOptimizerState(a)
      const naive = createOptimizer({ name: 'adam', learningRate: 0.01 })
      const named = await a.getWeights()
      await naive.setWeights(named)
      if ((naive as unknown as { accBeta1: tf.Variable }).accBeta1.dataSync()[0] !== running) naiveDiffers++
      const ours = createOptimizer({ name: 'adam', learningRate: 0.01 })
      await restoreOptimizerState(ours, saved)
      expect((ours as unknown as { accBeta1: tf.Variable }).accBeta1.dataSync()[0], `step ${n}`).toBe(running)
      expect((ours as unknown as { accBeta2: tf.Variable }).accBeta2.dataSync()[0], `step ${n}`).toBe((a as unknown as { accBeta2: tf.Variable }).accBeta2.dataSync()[0])
      tf.dispose(named.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)))
      for (const o of [a, naive, ours]) disposeOptimizer(o)
      v.dispose()
    }
    expect(naiveDiffers).toBeGreaterThan(0)
  })

  it.each<OptimizerSpec>([
    { name: 'adam', learningRate: 0.05 },
    { name: 'sgd', learningRate: 0.05, momentum: 0.99 },
    { name: 'sgd', learningRate: 0.05 },
    { name: 'rmsprop', learningRate: 0.01, momentum: 0.9 },
  ])('$name (momentum $momentum): 7 steps, save, restore into a fresh optimizer, 6 more steps = 13 straight', async (spec) => {
    const straight = tf.variable(tf.tensor1d([0.5, -1, 2]))
    const o1 = createOptimizer(spec)
    steps(o1, straight, 13)
    const cut = tf.variable(tf.tensor1d([0.5, -1, 2]))
    const o2 = createOptimizer(spec)
    steps(o2, cut, 7)
    const state = JSON.parse(JSON.stringify(await saveOptimizerState(o2), (_k, v) => (ArrayBuffer.isView(v) ? { typed: v instanceof Int32Array ? 'i' : 'f', values: Array.from(v as Float32Array) } : v)), (_k, v) =>
      v && typeof v === 'object' && 'typed' in v ? (v.typed === 'i' ? Int32Array.from(v.values) : Float32Array.from(v.values)) : v,
    )
    disposeOptimizer(o2)
    const o3 = createOptimizer(spec)
    await restoreOptimizerState(o3, state)
    steps(o3, cut, 6, 7)
    expect(Array.from(cut.dataSync())).toEqual(Array.from(straight.dataSync()))
    for (const o of [o1, o3]) disposeOptimizer(o)
    straight.dispose()
    cut.dispose()
  })

  it('changes the rate of every kind between steps, and checks specs with what to do', () => {
    for (const name of ['adam', 'sgd', 'rmsprop'] as const) {
      const o = createOptimizer({ name, learningRate: 0.1, momentum: name === 'adam' ? 0 : 0.5 })
      setLearningRate(o, 0.02)
      expect(getLearningRate(o)).toBe(0.02)
      disposeOptimizer(o)
    }
    expect(checkOptimizer({ name: 'adam', learningRate: 0.1, momentum: 0.9 })[0]).toMatch(/momentum is for sgd and rmsprop/)
    expect(checkOptimizer({ name: 'nadam' as never, learningRate: 0.1 })[0]).toMatch(/use one of adam, sgd, rmsprop/)
    expect(checkOptimizer({ name: 'sgd', learningRate: -1, weightDecay: -2 })).toHaveLength(2)
  })
})
