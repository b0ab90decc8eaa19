/**
 * VGG-16 parity with PyTorch: has vgg_parity.py write random VGG-16 weights in the Keras HDF5 layout of
 * vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5, loads them with @unet/vgg-encoder's loadVggWeights into
 * createVggUnet's encoder, runs a random grayscale batch through it (caffe preprocessing inside the model), has
 * torchvision's vgg16().features compute the same with the same weights, and prints the max abs difference
 * after each block. Not part of CI (needs Debian's python3-torch, python3-torchvision, python3-h5py).
 *
 * Run from the repository root (build @unet/layers first: pnpm --filter @unet/layers build):
 *   pnpm --filter @unet/parity vgg [--size 64] [--batch 2] [--seed 0] [--backend cpu|wasm]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type * as TfCore from '@tensorflow/tfjs-core'
import type * as TfLayers from '@tensorflow/tfjs-layers'
import { createVggUnet, loadVggWeights } from '../../packages/vgg-encoder/src/index'

// resolve tfjs where @unet/vgg-encoder resolves it (one tfjs instance).
const require = createRequire(new URL('../../packages/vgg-encoder/package.json', import.meta.url))
const tf = require('@tensorflow/tfjs-core') as typeof TfCore
const tfl = require('@tensorflow/tfjs-layers') as typeof TfLayers
require('@tensorflow/tfjs-backend-cpu')

const { values: opts } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '2' },
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'cpu' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
})
const size = Number(opts.size)
const batch = Number(opts.batch)
const script = fileURLToPath(new URL('./vgg_parity.py', import.meta.url))

async function main(): Promise<void> {
  if (opts.backend === 'wasm') {
    const runtime = createRequire(new URL('../bench/package.json', import.meta.url))('@unet/runtime') as {
      initBackend: (o: { backend: string }) => Promise<{ backend: string }>
    }
    await runtime.initBackend({ backend: 'wasm' })
  } else {
    await tf.setBackend('cpu')
  }
  const dir = mkdtempSync(join(tmpdir(), 'vgg-parity-'))
  try {
    execFileSync(opts.python, [script, 'weights', dir, '--seed', opts.seed], { stdio: 'inherit' })
    const model = createVggUnet({ inputShape: [size, size, 1], decoderFilters: [2, 2, 2, 2, 2] })
    let t = performance.now()
    const result = await loadVggWeights(model, join(dir, 'vgg16-random-notop.h5'))
    const loadSeconds = (performance.now() - t) / 1000
    console.log(`loadVggWeights: ${result.loaded.length} layers from the 58 MB HDF5 file in ${loadSeconds.toFixed(2)} s`)

    const input = tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', Number(opts.seed) + 1)
    writeFileSync(join(dir, 'input.f32'), new Uint8Array((input.dataSync() as Float32Array).buffer))
    writeFileSync(join(dir, 'input.json'), JSON.stringify({ shape: input.shape }))
    execFileSync(opts.python, [script, 'features', dir], { stdio: 'inherit' })
    const torchShapes = JSON.parse(readFileSync(join(dir, 'torch.json'), 'utf8')) as Record<string, number[]>

    const pools = [1, 2, 3, 4, 5].map((b) => `block${b}_pool`)
    const encoder = tfl.model({ inputs: model.inputs, outputs: pools.map((n) => model.getLayer(n).output as TfLayers.SymbolicTensor) })
    t = performance.now()
    const outputs = encoder.predict(input) as TfCore.Tensor[]
    const ours = outputs.map((o) => o.dataSync() as Float32Array)
    const forwardSeconds = (performance.now() - t) / 1000
    console.log(`\nVGG-16 features, ${batch}×${size}×${size}×1 random input in [0, 1], backend ${tf.getBackend()} (forward ${forwardSeconds.toFixed(2)} s)`)
    console.log('| output | shape | max abs diff | max abs value | diff / max value |')
    console.log('| --- | --- | --- | --- | --- |')
    let worst = 0
    pools.forEach((name, i) => {
      const mine = ours[i] as Float32Array
      const shape = torchShapes[name] ?? []
      const bytes = readFileSync(join(dir, `torch_${i + 1}.f32`))
      const theirs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
      if (theirs.length !== mine.length || String(shape) !== String(outputs[i]?.shape)) {
        throw new Error(`${name}: tfjs shape [${String(outputs[i]?.shape)}] but torch [${String(shape)}]`)
      }
      let diff = 0
      let peak = 0
      for (let j = 0; j < mine.length; j++) {
        diff = Math.max(diff, Math.abs((mine[j] as number) - (theirs[j] as number)))
        peak = Math.max(peak, Math.abs(theirs[j] as number))
      }
      worst = Math.max(worst, diff / peak)
      console.log(`| ${name} | [${shape.join(', ')}] | ${diff.toExponential(3)} | ${peak.toExponential(3)} | ${(diff / peak).toExponential(3)} |`)
    })
    console.log(`\nlargest difference relative to the output's range: ${worst.toExponential(3)}`)
    tf.dispose([input, ...outputs])
    model.dispose()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
