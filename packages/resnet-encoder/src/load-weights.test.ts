import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import type * as tfl from '@tensorflow/tfjs-layers'
import { createUnet } from '@unet/layers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEncoder, resnetEncoder } from './encoder'
import { ResnetEncoderError } from './errors'
import { loadEncoderWeights } from './load-weights'
import { readSafetensors } from './safetensors'
import { encodeSafetensors, pattern } from './test-helpers'

let model: tfl.LayersModel
/** torchvision's state-dict layout for the model's encoder layers: key → shape (OIHW kernels), in model order. */
let layout: Array<[string, number[]]>
const dir = mkdtempSync(join(tmpdir(), 'resnet-weights-'))

beforeAll(async () => {
  await tf.setBackend('cpu')
  model = createEncoder('resnet18', { inputShape: [32, 32, 3] })
  layout = []
  for (const layer of model.layers) {
    const path = layer.name.replace(/_/g, '.')
    for (const w of layer.weights) {
      const kind = w.originalName.split('/').pop()!
      const key = { kernel: 'weight', gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var', bias: 'bias' }[kind]!
      const [h, wd, i, o] = w.shape as number[]
      layout.push([`${path}.${key}`, kind === 'kernel' ? [o!, i!, h!, wd!] : [...(w.shape as number[])]])
    }
  }
})
afterAll(() => {
  model.dispose()
  rmSync(dir, { recursive: true, force: true })
})

function file(edit: (tensors: Record<string, { shape: number[]; values: Float32Array | Uint8Array; dtype?: string }>) => void = () => {}): Uint8Array {
  const tensors: Record<string, { shape: number[]; values: Float32Array | Uint8Array; dtype?: string }> = {}
  layout.forEach(([key, shape], k) => {
    const n = shape.reduce((a, b) => a * b, 1)
    tensors[key] = { shape, values: Float32Array.from({ length: n }, (_, i) => (key.endsWith('running_var') ? 1 + Math.abs(pattern(k, i)) : pattern(k, i))) }
  })
  tensors['bn1.num_batches_tracked'] = { shape: [], values: new Uint8Array(8), dtype: 'I64' }
  tensors['fc.weight'] = { shape: [1000, 512], values: new Float32Array(512_000) }
  tensors['fc.bias'] = { shape: [1000], values: new Float32Array(1000) }
  edit(tensors)
  return encodeSafetensors(tensors)
}

async function failure(source: Uint8Array | string, target = model): Promise<ResnetEncoderError> {
  try {
    await loadEncoderWeights(target, source)
  } catch (error) {
    expect(error).toBeInstanceOf(ResnetEncoderError)
    return error as ResnetEncoderError
  }
  throw new Error('loadEncoderWeights did not throw')
}

describe('loadEncoderWeights from safetensors', () => {
  it('sets every tensor, conv kernels transposed OIHW → HWIO, batch-norm statistics included', async () => {
    const path = join(dir, 'resnet18.safetensors')
    writeFileSync(path, file())
    const result = await loadEncoderWeights(model, path)
    expect(result.format).toBe('safetensors')
    expect(result.loaded).toHaveLength(40) // 20 convolutions, 20 batch norms
    expect(result.ignored.sort()).toEqual(['bn1.num_batches_tracked', 'fc.bias', 'fc.weight'])
    const k = layout.findIndex(([key]) => key === 'layer2.0.conv1.weight')
    const kernel = model.getLayer('layer2_0_conv1').getWeights()[0]!
    const [kh, kw, cin, cout] = kernel.shape as number[]
    const values = kernel.dataSync()
    // element [o, i, y, x] of the file is kernel[y, x, i, o]
    for (const [o, i, y, x] of [[0, 0, 0, 0], [5, 3, 1, 2], [cout! - 1, cin! - 1, kh! - 1, kw! - 1]] as const) {
      expect(values[((y * kw! + x) * cin! + i) * cout! + o]).toBe(pattern(k, ((o * cin! + i) * kh! + y) * kw! + x))
    }
    const bn = model.getLayer('layer2_0_downsample_1').getWeights()
    const mean = layout.findIndex(([key]) => key === 'layer2.0.downsample.1.running_mean')
    expect(Array.from(bn[2]!.dataSync()).slice(0, 3)).toEqual([0, 1, 2].map((i) => pattern(mean, i)))
    const variance = layout.findIndex(([key]) => key === 'layer2.0.downsample.1.running_var')
    expect(bn[3]!.dataSync()[7]).toBe(Math.fround(1 + Math.abs(pattern(variance, 7))))
  })

  it('finds the encoder under a prefix, and fills a U-Net without touching its decoder', async () => {
    const unet = createUnet({ encoder: resnetEncoder('resnet18'), inputShape: [32, 32, 3], decoderFilters: [2, 2, 2, 2, 2] })
    const decoder = Array.from(unet.getLayer('dec3_conv1').getWeights()[0]!.dataSync())
    const prefixed = file((t) => {
      for (const key of Object.keys(t)) {
        t[`encoder.${key}`] = t[key]!
        delete t[key]
      }
    })
    const result = await loadEncoderWeights(unet, prefixed)
    expect(result.loaded).toHaveLength(40)
    expect(Array.from(unet.getLayer('dec3_conv1').getWeights()[0]!.dataSync())).toEqual(decoder)
    expect(Array.from(unet.getLayer('bn1').getWeights()[0]!.dataSync()).slice(0, 2)).toEqual(Array.from(model.getLayer('bn1').getWeights()[0]!.dataSync()).slice(0, 2))
    unet.dispose()
  })

  it('decodes F16 and BF16 tensors', () => {
    // 1.5 in half precision is 0x3e00; in bfloat16 0x3fc0; -2 is 0xc000 and 0xc000
    const bytes = encodeSafetensors({
      half: { shape: [2], values: new Uint8Array([0x00, 0x3e, 0x00, 0xc0]), dtype: 'F16' },
      brain: { shape: [2], values: new Uint8Array([0xc0, 0x3f, 0x00, 0xc0]), dtype: 'BF16' },
    })
    const tensors = readSafetensors(bytes, 'test')
    expect(Array.from(tensors.get('half')!.values())).toEqual([1.5, -2])
    expect(Array.from(tensors.get('brain')!.values())).toEqual([1.5, -2])
  })

  it('refuses a missing, extra or misshapen tensor by name, and loads nothing', async () => {
    const before = Array.from(model.getLayer('conv1').getWeights()[0]!.dataSync())
    const missing = await failure(file((t) => delete t['layer3.1.bn2.running_var']))
    expect(missing.code).toBe('MISSING_TENSOR')
    expect(missing.tensor).toBe('layer3.1.bn2.running_var')
    const extra = await failure(file((t) => (t['layer2.0.se.fc1.weight'] = { shape: [8, 128, 1, 1], values: new Float32Array(1024) })))
    expect(extra.code).toBe('EXTRA_TENSOR')
    expect(extra.message).toContain('layer2.0.se.fc1.weight')
    const misshapen = await failure(
      file((t) => {
        t['conv1.weight'] = { shape: [64, 3, 7, 7], values: new Float32Array(9408).fill(9) }
        t['layer4.1.conv2.weight'] = { shape: [512, 256, 3, 3], values: new Float32Array(512 * 256 * 9) }
      }),
    )
    expect(misshapen.code).toBe('SHAPE_MISMATCH')
    expect(misshapen.tensor).toBe('layer4.1.conv2.weight')
    expect(misshapen.message).toContain('is [512, 256, 3, 3] but layer layer4_1_conv2')
    expect(misshapen.message).toContain('needs [512, 512, 3, 3]')
    expect(Array.from(model.getLayer('conv1').getWeights()[0]!.dataSync())).toEqual(before)
  })

  it('says what is wrong with a file that is not safetensors, or not there', async () => {
    expect((await failure(new TextEncoder().encode('not a weights file at all'))).code).toBe('BAD_FORMAT')
    const truncated = file().slice(0, 5000)
    const error = await failure(truncated)
    expect(error.code).toBe('BAD_FORMAT')
    expect(error.message).toMatch(/truncated/)
    expect((await failure(join(dir, 'nope.safetensors'))).code).toBe('FILE_NOT_FOUND')
    const plain = createUnet({ depth: 1, filters: 2, inputShape: [8, 8, 1] })
    expect((await failure(file(), plain)).code).toBe('NOT_AN_ENCODER')
    plain.dispose()
  })
})
