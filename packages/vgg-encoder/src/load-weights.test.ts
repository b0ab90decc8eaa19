import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import type * as tfl from '@tensorflow/tfjs-layers'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { VGG16_CONV_LAYERS, type VggConvLayerName } from './architecture'
import { createVggUnet } from './create-vgg-unet'
import { VggError } from './errors'
import { loadVggWeights } from './load-weights'
import { firstPatternMismatch } from './test-pattern'

const fixture = (name: string): string => new URL(`../fixtures/${name}`, import.meta.url).pathname
const small = (): tfl.LayersModel => createVggUnet({ inputShape: [32, 32, 1], decoderFilters: [2, 2, 2, 2, 2] })
const values = (model: tfl.LayersModel, layer: string): Float32Array[] =>
  model.getLayer(layer).getWeights().map((w) => w.dataSync() as Float32Array)
/** Bit-for-bit equality of a layer's arrays (vitest's toEqual walks millions of elements one by one). */
const same = (a: Float32Array[], b: Float32Array[]): boolean =>
  a.length === b.length &&
  a.every((x, i) => {
    const y = b[i] as Float32Array
    return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))
  })

async function rejection(promise: Promise<unknown>): Promise<VggError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(VggError)
  return error as VggError
}

let tmp: string
let startTensors: number
let model: tfl.LayersModel

// one model for all tests (building VGG-16 takes a while); each test compares against the state it found
beforeAll(async () => {
  await tf.setBackend('cpu')
  tmp = mkdtempSync(join(tmpdir(), 'vgg-weights-'))
  model = small()
})
afterAll(() => {
  model.dispose()
  rmSync(tmp, { recursive: true, force: true })
})
beforeEach(() => {
  startTensors = tf.memory().numTensors
})
afterEach(() => {
  expect(tf.memory().numTensors).toBe(startTensors)
})

describe('loadVggWeights from a Keras HDF5 file', () => {
  it('sets every kernel and bias of the 13 convolutions to the values of the file', async () => {
    const result = await loadVggWeights(model, fixture('vgg16-pattern-notop.h5'))
    expect(result.format).toBe('keras-h5')
    expect(result.loaded).toEqual([...VGG16_CONV_LAYERS])
    expect(result.missing).toEqual([])
    expect(result.ignored).toEqual(expect.arrayContaining(['input_1', 'block1_pool', 'block5_pool']))
    for (const layer of VGG16_CONV_LAYERS) {
      const [kernel, bias] = values(model, layer)
      expect(firstPatternMismatch(kernel as Float32Array, layer, 'kernel'), `${layer} kernel`).toBe(-1)
      expect(firstPatternMismatch(bias as Float32Array, layer, 'bias'), `${layer} bias`).toBe(-1)
    }
  })

  it('reads the Keras 1 layout of the original notop file, and HDF5 bytes, loading only what is there on request', async () => {
    for (const layer of ['block1_conv1', 'block1_conv2']) {
      tf.tidy(() => model.getLayer(layer).setWeights(model.getLayer(layer).getWeights().map((w) => tf.zerosLike(w))))
    }
    const before = values(model, 'block2_conv1')
    const bytes = new Uint8Array(readFileSync(fixture('vgg16-keras1-block1.h5')))
    const result = await loadVggWeights(model, bytes, { allowMissing: true })
    expect(result.loaded).toEqual(['block1_conv1', 'block1_conv2'])
    expect(result.missing).toEqual(VGG16_CONV_LAYERS.slice(2))
    for (const layer of ['block1_conv1', 'block1_conv2'] as VggConvLayerName[]) {
      const [kernel, bias] = values(model, layer)
      expect(firstPatternMismatch(kernel as Float32Array, layer, 'kernel')).toBe(-1)
      expect(firstPatternMismatch(bias as Float32Array, layer, 'bias')).toBe(-1)
    }
    expect(same(values(model, 'block2_conv1'), before)).toBe(true)
  })

  it('reads a whole-model Keras file (model.save), whose weights sit under /model_weights', async () => {
    for (const layer of ['block1_conv1', 'block1_conv2']) {
      tf.tidy(() => model.getLayer(layer).setWeights(model.getLayer(layer).getWeights().map((w) => tf.ones(w.shape))))
    }
    const result = await loadVggWeights(model, fixture('vgg16-whole-model-block1.h5'), { allowMissing: true })
    expect(result.loaded).toEqual(['block1_conv1', 'block1_conv2'])
    const [kernel, bias] = values(model, 'block1_conv2')
    expect(firstPatternMismatch(kernel as Float32Array, 'block1_conv2', 'kernel')).toBe(-1)
    expect(firstPatternMismatch(bias as Float32Array, 'block1_conv2', 'bias')).toBe(-1)
  })

  it('finds the VGG layers of a VGG16 nested in a bigger Keras model', async () => {
    for (const layer of ['block1_conv1', 'block2_conv2']) {
      tf.tidy(() => model.getLayer(layer).setWeights(model.getLayer(layer).getWeights().map((w) => tf.ones(w.shape))))
    }
    const result = await loadVggWeights(model, fixture('vgg16-nested-blocks12.h5'), { allowMissing: true })
    expect(result.loaded).toEqual(['block1_conv1', 'block1_conv2', 'block2_conv1', 'block2_conv2'])
    expect(result.ignored).toEqual(['input_2', 'head'])
    for (const layer of ['block1_conv1', 'block2_conv2'] as VggConvLayerName[]) {
      const [kernel, bias] = values(model, layer)
      expect(firstPatternMismatch(kernel as Float32Array, layer, 'kernel')).toBe(-1)
      expect(firstPatternMismatch(bias as Float32Array, layer, 'bias')).toBe(-1)
    }
  })

  it('refuses a file without all 13 convolutions, naming the missing ones, and loads nothing', async () => {
    const before = values(model, 'block1_conv1')
    const error = await rejection(loadVggWeights(model, fixture('vgg16-keras1-block1.h5')))
    expect(error.code).toBe('MISSING_LAYER')
    expect(error.message).toContain('vgg16-keras1-block1.h5')
    expect(error.message).toContain('block2_conv1, block2_conv2, block3_conv1')
    expect(error.message).toContain('allowMissing')
    expect(same(values(model, 'block1_conv1'), before)).toBe(true)
  })

  it('refuses arrays whose shapes do not fit, naming layer and shapes, and loads nothing', async () => {
    const before = values(model, 'block1_conv2')
    const error = await rejection(loadVggWeights(model, fixture('vgg16-wrong-shape.h5'), { allowMissing: true }))
    expect(error.code).toBe('SHAPE_MISMATCH')
    expect(error.message).toMatch(/block1_conv1: file holds block1_conv1\/kernel:0 \[3, 3, 1, 64\]/)
    expect(error.message).toContain('kernel [3, 3, 3, 64]')
    expect(error.message).not.toContain('block1_conv2:')
    expect(same(values(model, 'block1_conv2'), before)).toBe(true)
  })

  it('says what is wrong with a file that is not a Keras weights file', async () => {
    const notKeras = await rejection(loadVggWeights(model, fixture('not-keras.h5')))
    expect(notKeras.code).toBe('BAD_FORMAT')
    expect(notKeras.message).toMatch(/not-keras\.h5: has no 'layer_names' attribute/)

    const text = join(tmp, 'weights.h5')
    writeFileSync(text, 'not a weights file')
    const notHdf5 = await rejection(loadVggWeights(model, text))
    expect(notHdf5.code).toBe('BAD_FORMAT')
    expect(notHdf5.message).toMatch(/weights\.h5: is not an HDF5 file/)

    const truncated = join(tmp, 'truncated.h5')
    writeFileSync(truncated, readFileSync(fixture('vgg16-keras1-block1.h5')).subarray(0, 4000))
    expect((await rejection(loadVggWeights(model, truncated))).code).toBe('BAD_FORMAT')

    const absent = await rejection(loadVggWeights(model, join(tmp, 'nothing-here.h5')))
    expect(absent.code).toBe('FILE_NOT_FOUND')
    expect(absent.message).toContain('nothing-here.h5')
    expect((await rejection(loadVggWeights(model, tmp))).code).toBe('FILE_NOT_FOUND')
  })

  it('refuses a model without the VGG-16 layers', async () => {
    const tfl = await import('@tensorflow/tfjs-layers')
    const other = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1] })] })
    const error = await rejection(loadVggWeights(other, fixture('vgg16-pattern-notop.h5')))
    expect(error.code).toBe('UNKNOWN_LAYER')
    expect(error.message).toContain('block1_conv1')
    other.dispose()
  })
})

describe('loadVggWeights from the tfjs layers format', () => {
  async function save(source: tfl.LayersModel, dir: string): Promise<void> {
    await source.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const { weightData, ...rest } = artifacts
        writeFileSync(join(dir, 'weights.bin'), new Uint8Array(weightData as ArrayBuffer))
        const manifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }]
        writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...rest, weightSpecs: undefined, weightsManifest: manifest }))
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
      }),
    )
  }

  it('copies the encoder of a saved model and leaves the decoder alone', async () => {
    const source = small()
    const dir = mkdtempSync(join(tmp, 'model-'))
    await save(source, dir)
    const decoderBefore = values(model, 'dec1_conv1')
    const result = await loadVggWeights(model, dir)
    expect(result.format).toBe('tfjs-layers')
    expect(result.loaded).toEqual([...VGG16_CONV_LAYERS])
    expect(result.ignored).toEqual(expect.arrayContaining(['center_conv1', 'dec1_conv1', 'output']))
    for (const layer of VGG16_CONV_LAYERS) expect(same(values(model, layer), values(source, layer))).toBe(true)
    expect(same(values(model, 'dec1_conv1'), decoderBefore)).toBe(true)
    expect(same(values(model, 'dec1_conv1'), values(source, 'dec1_conv1'))).toBe(false)
    source.dispose()
  })

  it('checks a manifest against the model: shapes, missing layers, no manifest', async () => {
    const dir = mkdtempSync(join(tmp, 'manifest-'))
    const weights = [
      { name: 'block1_conv1/kernel', shape: [3, 3, 1, 64], dtype: 'float32' },
      { name: 'block1_conv1/bias', shape: [64], dtype: 'float32' },
    ]
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array((3 * 3 * 64 + 64) * 4))
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['weights.bin'], weights }] }))
    const shape = await rejection(loadVggWeights(model, join(dir, 'model.json')))
    expect(shape.code).toBe('SHAPE_MISMATCH')
    expect(shape.message).toContain('block1_conv1: file holds block1_conv1/kernel [3, 3, 1, 64], block1_conv1/bias [64]')

    weights[0] = { name: 'block1_conv1/kernel', shape: [3, 3, 3, 64], dtype: 'float32' }
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array((3 * 3 * 3 * 64 + 64) * 4))
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['weights.bin'], weights }] }))
    const missing = await rejection(loadVggWeights(model, dir))
    expect(missing.code).toBe('MISSING_LAYER')
    expect(missing.message).toContain('block1_conv2')
    const partial = await loadVggWeights(model, dir, { allowMissing: true })
    expect(partial.loaded).toEqual(['block1_conv1'])
    expect(values(model, 'block1_conv1')[0]?.every((v) => v === 0)).toBe(true)

    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(12))
    expect((await rejection(loadVggWeights(model, dir))).message).toMatch(/shards hold 12 bytes but the manifest describes/)

    writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: {} }))
    const bad = await rejection(loadVggWeights(model, dir))
    expect(bad.code).toBe('BAD_FORMAT')
    expect(bad.message).toContain("has no 'weightsManifest'")
  })
})
