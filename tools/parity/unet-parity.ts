/**
 * U-Net parity with PyTorch: builds models with @unet/layers' createUnet, gives every weight
 * (batch-norm statistics included) random values, runs a random input through tfjs, and has
 * unet_parity.py build the same network in PyTorch with the same weights and compare outputs.
 * Prints the max abs difference per case. Not part of CI (needs Debian's python3-torch).
 *
 * Run from the repository root:
 *   apt-get install -y python3-torch python3-numpy   # once, as root
 *   pnpm --filter @unet/parity unet [--backend cpu|wasm]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type * as TfCore from '@tensorflow/tfjs-core'
import { FixtureWriter } from './fixture'
import type { UnetOptions } from '../../packages/layers/src/index'
import { createUnet, resolveUnetOptions } from '../../packages/layers/src/index'

// resolve tfjs where @unet/layers resolves it (one tfjs instance).
const require = createRequire(new URL('../../packages/layers/package.json', import.meta.url))
const tf = require('@tensorflow/tfjs-core') as typeof TfCore
require('@tensorflow/tfjs-backend-cpu')

interface Case {
  name: string
  options: UnetOptions
  batch: number
}

const CASES: Case[] = [
  { name: 'default (depth 4, 16 filters, batch norm, transpose, sigmoid) 128×128×1', options: {}, batch: 2 },
  {
    name: 'depth 3, 8 filters ×1.5, no batch norm, bilinear, logits, 3 classes, 64×96×3',
    options: { depth: 3, filters: 8, filterScaling: 1.5, batchNormMomentum: null, upsampling: 'bilinear', outputActivation: 'linear', classes: 3, inputShape: [64, 96, 3] },
    batch: 2,
  },
  {
    name: 'depth 5, 8 filters, batch norm, bilinear, logits, 128×128×1',
    options: { depth: 5, filters: 8, upsampling: 'bilinear', outputActivation: 'linear' },
    batch: 1,
  },
]

async function main(): Promise<void> {
  const backendFlag = process.argv.indexOf('--backend')
  const backend = backendFlag > 0 ? process.argv[backendFlag + 1]! : 'cpu'
  if (backend === 'wasm') {
    const runtime = require('@unet/runtime') as { initBackend: (o: { backend: string }) => Promise<{ backend: string }> }
    await runtime.initBackend({ backend: 'wasm' })
  } else {
    await tf.setBackend(backend)
  }
  const python = process.env.PYTHON ?? '/usr/bin/python3'
  const script = new URL('./unet_parity.py', import.meta.url).pathname
  try {
    execFileSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' })
  } catch (error) {
    throw new Error(
      `${python} cannot import torch and numpy: install Debian's packages as root (apt-get install -y python3-torch python3-numpy), ` +
        'or point PYTHON at an interpreter that has them.',
      { cause: error },
    )
  }
  console.log(`U-Net parity, tfjs ${tf.version_core} on ${tf.getBackend()} vs PyTorch (eval mode)`)
  const results: Array<Record<string, unknown>> = []
  for (const c of CASES) {
    const dir = mkdtempSync(join(tmpdir(), 'unet-parity-'))
    try {
      writeCase(dir, c)
      const out = execFileSync(python, [script, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      const result = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number | string>
      results.push(result)
      console.log(
        `${c.name}\n  max |tfjs − torch float32| = ${Number(result.maxAbsDiff_float32).toExponential(2)}` +
          `   max |tfjs − torch float64| = ${Number(result.maxAbsDiff_float64).toExponential(2)}` +
          `   (mean ${Number(result.meanAbsDiff_float64).toExponential(2)}, outputs up to ${Number(result.maxAbsOutput_float64).toFixed(3)}, torch ${result.torch})`,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const worst = Math.max(...results.map((r) => Number(r.maxAbsDiff_float64)))
  console.log(`worst max abs difference: ${worst.toExponential(2)}`)
}

/** Randomises every weight (batch-norm statistics too, so inference-mode batch norm is exercised) and writes the case. */
function writeCase(dir: string, c: Case): void {
  const model = createUnet(c.options)
  const fixture = new FixtureWriter()
  const put = fixture.put.bind(fixture)
  const layers: Array<{ name: string; weights: Array<{ shape: number[]; offset: number }> }> = []
  for (const layer of model.layers) {
    const current = layer.getWeights()
    if (current.length === 0) continue
    const fresh = tf.tidy(() =>
      current.map((w, i) => {
        const isBatchNorm = layer.getClassName() === 'BatchNormalization'
        if (isBatchNorm && i === 3) return tf.randomUniform(w.shape, 0.5, 2) // moving variance > 0
        if (isBatchNorm) return tf.randomNormal(w.shape, i === 0 ? 1 : 0, 0.2)
        return i === 0 ? w.clone() : tf.randomNormal(w.shape, 0, 0.1) // He-normal kernels as built; random biases
      }),
    )
    layer.setWeights(fresh)
    layers.push({ name: layer.name, weights: fresh.map((w) => put(w.dataSync() as Float32Array, w.shape)) })
    tf.dispose(fresh)
  }
  const [h, w, ch] = resolveUnetOptions(c.options).inputShape
  const x = tf.randomUniform([c.batch, h, w, ch])
  const y = tf.tidy(() => model.predict(x) as TfCore.Tensor)
  const manifest = {
    case: c.name,
    options: resolveUnetOptions(c.options),
    layers,
    input: put(x.dataSync() as Float32Array, x.shape),
    output: put(y.dataSync() as Float32Array, y.shape),
  }
  tf.dispose([x, y])
  model.dispose()
  fixture.write(dir, manifest)
}

await main()
