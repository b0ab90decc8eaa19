/**
 * ResNet / SE-ResNet parity with PyTorch (not part of CI; needs Debian's python3-torch, python3-torchvision).
 *
 * 1. Encoder features: for each encoder, resnet_parity.py draws random weights (batch-norm statistics too) for
 *    torchvision's network (SE variants: an SE block written in the script) and writes them as safetensors by
 *    hand; @unet/resnet-encoder's loadEncoderWeights reads them into createEncoder(name); a random non-square
 *    batch goes through both; the max abs difference is printed at every stride.
 *    The same for the pre-activation networks of qubvel's classification_models (--keras): random weights written
 *    with h5py in the Keras layout of its *_imagenet_1000_no_top.h5 files, loaded from that h5, against a PyTorch
 *    forward pass over the same file.
 * 2. Whole U-Net: createUnet({ encoder: resnetEncoder(name) }) with every weight randomised is rebuilt in PyTorch
 *    (ImageNet normalisation, the same encoder, @unet/layers' decoder) and both outputs compared.
 *
 * Run from the repository root (build @unet/layers first: pnpm --filter @unet/layers build):
 *   pnpm --filter @unet/parity resnet [--encoders resnet18,resnet34,resnet50,seresnet34]
 *     [--keras resnet18,seresnet34] [--height 64] [--width 96] [--batch 2] [--seed 0] [--backend cpu|wasm] [--unet resnet34,seresnet34]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type * as TfCore from '@tensorflow/tfjs-core'
import { FixtureWriter } from './fixture'
import { createUnet, resolveUnetOptions, type UnetOptions } from '../../packages/layers/src/index'
import { createEncoder, loadEncoderWeights, resnetEncoder } from '../../packages/resnet-encoder/src/index'

const require = createRequire(new URL('../../packages/resnet-encoder/package.json', import.meta.url))
const tf = require('@tensorflow/tfjs-core') as typeof TfCore
require('@tensorflow/tfjs-backend-cpu')

const { values: opts } = parseArgs({
  options: {
    encoders: { type: 'string', default: 'resnet18,resnet34,resnet50,seresnet34' },
    unet: { type: 'string', default: 'resnet34,seresnet34' },
    keras: { type: 'string', default: 'resnet18,seresnet34' },
    height: { type: 'string', default: '64' },
    width: { type: 'string', default: '96' },
    batch: { type: 'string', default: '2' },
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'cpu' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
})
const [height, width, batch] = [Number(opts.height), Number(opts.width), Number(opts.batch)]
const script = fileURLToPath(new URL('./resnet_parity.py', import.meta.url))

function maxAbs(a: Float32Array, b: Float32Array): { diff: number; peak: number } {
  let diff = 0
  let peak = 0
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!))
    peak = Math.max(peak, Math.abs(b[i]!))
  }
  return { diff, peak }
}

async function encoderParity(name: string, keras = false): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'resnet-parity-'))
  try {
    execFileSync(opts.python, [script, keras ? 'keras-weights' : 'weights', dir, name, opts.seed], { stdio: 'inherit' })
    const model = createEncoder(name, { inputShape: [height, width, 3], ...(keras ? { topology: 'classification_models' as const } : {}) })
    const result = await loadEncoderWeights(model, join(dir, keras ? `${name}-cm.h5` : `${name}.safetensors`))
    // torchvision's networks take normalised input; classification_models' take 0–255 (bn_data normalises)
    const input = keras ? tf.randomUniform([batch, height, width, 3], 0, 255, 'float32', Number(opts.seed) + 1) : tf.randomNormal([batch, height, width, 3], 0, 1, 'float32', Number(opts.seed) + 1)
    writeFileSync(join(dir, 'input.f32'), new Uint8Array((input.dataSync() as Float32Array).buffer))
    writeFileSync(join(dir, 'input.json'), JSON.stringify({ shape: input.shape }))
    execFileSync(opts.python, [script, keras ? 'keras-features' : 'features', dir, name], { stdio: 'inherit' })
    const outputs = model.predict(input) as TfCore.Tensor[]
    console.log(
      `\n${name}${keras ? " (classification_models' pre-activation network, Keras h5 written with h5py)" : ' (torchvision, safetensors)'}: ${result.loaded.length} layers loaded ` +
        `(${result.ignored.length} file entries ignored: fc / num_batches_tracked); input ${batch}×${height}×${width}×3, backend ${tf.getBackend()}`,
    )
    const noise = JSON.parse(readFileSync(join(dir, 'noise.json'), 'utf8')) as number[]
    console.log('| feature | stride | shape | max abs diff tfjs vs torch | max abs value | torch float32 vs float64 (rounding alone) |')
    console.log('| --- | --- | --- | --- | --- | --- |')
    let worst = 0
    outputs.forEach((output, k) => {
      const bytes = readFileSync(join(dir, `torch_${k}.f32`))
      const theirs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
      const mine = output.dataSync() as Float32Array
      if (mine.length !== theirs.length) throw new Error(`${name} feature ${k}: tfjs [${output.shape.join(', ')}] has ${mine.length} values, torch ${theirs.length}`)
      const { diff, peak } = maxAbs(mine, theirs)
      worst = Math.max(worst, diff)
      const names = keras ? ['relu0', 'stage2_unit1_relu1', 'stage3_unit1_relu1', 'stage4_unit1_relu1', 'relu1'] : ['relu(bn1(conv1))', 'layer1', 'layer2', 'layer3', 'layer4']
      console.log(`| ${names[k]} | ${2 ** (k + 1)} | [${output.shape.join(', ')}] | ${diff.toExponential(2)} | ${peak.toExponential(2)} | ${noise[k]!.toExponential(2)} |`)
    })
    tf.dispose([input, ...outputs])
    model.dispose()
    return worst
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function unetParity(name: string, options: UnetOptions): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'resnet-unet-parity-'))
  try {
    const model = createUnet({ ...options, encoder: resnetEncoder(name) })
    const fixture = new FixtureWriter()
    const put = fixture.put.bind(fixture)
    const layers: Array<{ name: string; weights: Array<{ shape: number[]; offset: number }> }> = []
    for (const layer of model.layers) {
      const current = layer.getWeights()
      if (current.length === 0) continue
      const fresh =
        layer.name === 'imagenet_preprocess'
          ? current.map((w) => w.clone())
          : tf.tidy(() =>
              current.map((w, i) => {
                const isBatchNorm = layer.getClassName() === 'BatchNormalization'
                if (isBatchNorm && i === 3) return tf.randomUniform(w.shape, 0.5, 2)
                if (isBatchNorm) return tf.randomNormal(w.shape, i === 0 ? 1 : 0, 0.2)
                return i === 0 ? w.clone() : tf.randomNormal(w.shape, 0, 0.1)
              }),
            )
      layer.setWeights(fresh)
      layers.push({ name: layer.name, weights: fresh.map((w) => put(w.dataSync() as Float32Array, w.shape)) })
      tf.dispose(fresh)
    }
    const resolved = resolveUnetOptions({ ...options, encoder: resnetEncoder(name) })
    const [h, w, ch] = resolved.inputShape
    const x = tf.randomUniform([batch, h, w, ch], 0, 1, 'float32', 5)
    const y = tf.tidy(() => model.predict(x) as TfCore.Tensor)
    const manifest = {
      case: `${name} U-Net ${JSON.stringify(options)}`,
      encoder: name,
      options: { ...resolved, encoder: name },
      layers,
      input: put(x.dataSync() as Float32Array, x.shape),
      output: put(y.dataSync() as Float32Array, y.shape),
    }
    tf.dispose([x, y])
    model.dispose()
    fixture.write(dir, manifest)
    const out = execFileSync(opts.python, [script, 'unet', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number | string>
    console.log(
      `${manifest.case}\n  max |tfjs − torch float32| = ${Number(result.maxAbsDiff_float32).toExponential(2)}   ` +
        `max |tfjs − torch float64| = ${Number(result.maxAbsDiff_float64).toExponential(2)}   (outputs up to ${Number(result.maxAbsOutput_float64).toFixed(3)}, torch ${result.torch})`,
    )
    return Number(result.maxAbsDiff_float64)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  if (opts.backend === 'wasm') {
    const runtime = createRequire(new URL('../bench/package.json', import.meta.url))('@unet/runtime') as { initBackend: (o: { backend: string }) => Promise<unknown> }
    await runtime.initBackend({ backend: 'wasm' })
  } else {
    await tf.setBackend(opts.backend)
  }
  console.log(`ResNet parity, tfjs ${tf.version_core} on ${tf.getBackend()} vs PyTorch (eval mode)`)
  const worst: Record<string, number> = {}
  for (const name of opts.encoders.split(',').filter(Boolean)) worst[name] = await encoderParity(name)
  for (const name of opts.keras.split(',').filter(Boolean)) worst[`${name} (classification_models h5)`] = await encoderParity(name, true)
  console.log('\nU-Nets (decoder included), random weights everywhere:')
  const cases: UnetOptions[] = [
    { inputShape: [height, width, 3] },
    { inputShape: [height, width, 1], upsampling: 'bilinear', outputActivation: 'linear', classes: 2, decoderFilters: [8, 8, 16, 16, 32] },
  ]
  for (const name of opts.unet.split(',').filter(Boolean)) {
    for (const [i, c] of cases.entries()) worst[`${name} U-Net case ${i + 1}`] = await unetParity(name, c)
  }
  console.log('\nworst max abs difference:', JSON.stringify(Object.fromEntries(Object.entries(worst).map(([k, v]) => [k, Number(v.toExponential(2))]))))
}

await main()
