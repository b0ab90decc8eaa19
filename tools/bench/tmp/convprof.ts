import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import '@tensorflow/tfjs-backend-wasm'
import { initBackend } from '../../../packages/runtime/src/index'
import { createUnet } from '../../../packages/layers/src/index'
const stats = new Map<string, { t: number; n: number }>()
await initBackend({ backend: 'wasm', threads: 1 })
for (const config of tf.getKernelsForBackend('wasm')) {
  if (!/Conv/.test(config.kernelName)) continue
  const inner = config.kernelFunc
  tf.unregisterKernel(config.kernelName, 'wasm')
  tf.registerKernel({ ...config, setupFunc: undefined, kernelFunc: (args: any) => {
    const t0 = performance.now()
    const r = inner(args)
    const dt = performance.now() - t0
    const key = config.kernelName + ' ' + Object.entries(args.inputs).filter(([, v]: any) => v != null).map(([k, v]: any) => k + '[' + v.shape + ']').join(' ') + ' s' + args.attrs.strides
    const e = stats.get(key) ?? { t: 0, n: 0 }
    e.t += dt; e.n++; stats.set(key, e)
    return r
  } } as any)
}
const model = createUnet({ depth: 4, filters: 16, filterScaling: 2, batchNormMomentum: 0.99, upsampling: 'transpose', inputShape: [128, 128, 1] } as any)
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' })
const xs = tf.randomUniform([8, 128, 128, 1], 0, 1, 'float32', 1)
const ys = tf.cast(tf.greater(tf.randomUniform([8, 128, 128, 1], 0, 1, 'float32', 2), 0.5), 'float32')
await model.trainOnBatch(xs, ys)
stats.clear()
for (let i = 0; i < 5; i++) await model.trainOnBatch(xs, ys)
const tot: Record<string, number> = {}
for (const [k, e] of [...stats].sort()) { const kn = k.split(' ')[0]!; tot[kn] = (tot[kn] ?? 0) + e.t / 5; console.log(k.padEnd(110), (e.t / 5).toFixed(2), e.n / 5) }
console.log('totals fwd/bwd_d/bwd_w ms', tot)
process.exit(0)
