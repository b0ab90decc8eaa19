/**
 * A real training step (and prediction) of the bench U-Net on the wasm backend with the oneDNN addon
 * registered as its Conv2D / FusedConv2D / Conv2DBackpropInput / Conv2DBackpropFilter kernels; everything
 * else stays on wasm with @unet/runtime's training kernels. First checks that both kernel sets give the same
 * losses from the same weights, then times each.
 *
 *   cd tools/bench && OMP_NUM_THREADS=1 pnpm exec tsx ../native-dnnl/step.ts [--steps 5]
 */
import { registerNativeConvKernels, requireFromBench } from './native'
import { initBackend } from '../../packages/runtime/src/index'

type Tf = typeof import('@tensorflow/tfjs-core')
type Tfl = typeof import('@tensorflow/tfjs-layers')
const tf = requireFromBench('@tensorflow/tfjs-core') as Tf
const tfl = requireFromBench('@tensorflow/tfjs-layers') as Tfl
requireFromBench('@tensorflow/tfjs-backend-wasm')

const stepsArg = process.argv.indexOf('--steps')
const steps = stepsArg > 0 ? Number(process.argv[stepsArg + 1]) : 5

async function buildUnet(): Promise<import('@tensorflow/tfjs-layers').LayersModel> {
  const layers = (await import('../../packages/layers/src/index')) as unknown as {
    createUnet(options: Record<string, unknown>): import('@tensorflow/tfjs-layers').LayersModel
  }
  const model = layers.createUnet({
    depth: 4, filters: 16, filterScaling: 2, batchNormMomentum: 0.99, upsampling: 'transpose',
    inputShape: [128, 128, 1], classes: 1, outputActivation: 'sigmoid',
  })
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' })
  return model
}

function cpuS(c0: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(c0)
  return (u.user + u.system) / 1e6
}

async function timeIt(n: number, fn: () => Promise<unknown> | unknown): Promise<string> {
  await fn() // warm-up (optimizer state, primitive creation)
  let wall = Infinity, cpu = Infinity
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await fn()
    wall = Math.min(wall, (performance.now() - t0) / 1000)
    cpu = Math.min(cpu, cpuS(c0))
  }
  return `wall min ${wall.toFixed(3)} s  CPU min ${cpu.toFixed(3)} s  (${n} runs after a warm-up)`
}

async function main(): Promise<void> {
  const info = await initBackend({ backend: 'wasm', threads: 1 })
  console.log(`backend: ${info.reason}; OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS ?? '(unset)'}`)
  const xs = tf.randomUniform([8, 128, 128, 1], 0, 1, 'float32', 1)
  const ys = tf.cast(tf.greater(tf.randomUniform([8, 128, 128, 1], 0, 1, 'float32', 2), 0.5), 'float32')

  // Same weights, fresh Adam, three steps on each kernel set: the losses must agree.
  const a = await buildUnet()
  const weights = a.getWeights().map((w) => w.clone())
  const lossesWasm: number[] = []
  for (let i = 0; i < 3; i++) lossesWasm.push(Number(await a.trainOnBatch(xs, ys)))
  const wasmTimes = { step: await timeIt(steps, () => a.trainOnBatch(xs, ys)), predict: await timeIt(steps, () => tf.tidy(() => (a.predict(xs) as import('@tensorflow/tfjs-core').Tensor).dataSync())) }

  registerNativeConvKernels()
  const b = await buildUnet()
  b.setWeights(weights)
  const lossesNative: number[] = []
  for (let i = 0; i < 3; i++) lossesNative.push(Number(await b.trainOnBatch(xs, ys)))
  console.log(`losses, wasm kernels:   ${lossesWasm.map((l) => l.toFixed(6)).join(' ')}`)
  console.log(`losses, oneDNN kernels: ${lossesNative.map((l) => l.toFixed(6)).join(' ')}`)
  const before = tf.memory().numTensors
  const nativeTimes = { step: await timeIt(steps, () => b.trainOnBatch(xs, ys)), predict: await timeIt(steps, () => tf.tidy(() => (b.predict(xs) as import('@tensorflow/tfjs-core').Tensor).dataSync())) }
  console.log(`tensors before/after timed native runs: ${before} / ${tf.memory().numTensors}`)
  console.log(`wasm + @unet/runtime kernels   step ${wasmTimes.step}`)
  console.log(`                               predict ${wasmTimes.predict}`)
  console.log(`same + oneDNN conv kernels     step ${nativeTimes.step}`)
  console.log(`                               predict ${nativeTimes.predict}`)
  void tfl
}

await main()
process.exit(0)
