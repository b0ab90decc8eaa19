import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'

import { ModelFileError } from './errors'
import { loadModel, saveModel } from './io'

let root: string
let dir: string

beforeAll(async () => {
  await tf.setBackend('cpu')
  root = mkdtempSync(join(tmpdir(), 'unet-runtime-io-'))
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

let n = 0
beforeEach(() => {
  dir = join(root, `m${n++}`)
})

/** A small conv net with every kind of weight a U-Net has (conv, batch norm, transposed conv). */
function smallNet(seed: number, filters = 4): tfl.LayersModel {
  const init = () => tfl.initializers.glorotUniform({ seed })
  const input = tfl.input({ shape: [8, 8, 1] })
  let x = tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', kernelInitializer: init() }).apply(input) as tfl.SymbolicTensor
  x = tfl.layers.batchNormalization().apply(x) as tfl.SymbolicTensor
  x = tfl.layers.conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }).apply(x) as tfl.SymbolicTensor
  x = tfl.layers.conv2dTranspose({ filters, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: init() }).apply(x) as tfl.SymbolicTensor
  const out = tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init() }).apply(x) as tfl.SymbolicTensor
  return tfl.model({ inputs: input, outputs: out })
}

function probe(): tf.Tensor4D {
  return tf.tidy(() => tf.reshape(tf.linspace(-1, 1, 2 * 8 * 8), [2, 8, 8, 1]) as tf.Tensor4D)
}

function predict(model: tfl.LayersModel): Float32Array {
  const x = probe()
  const y = model.predict(x) as tf.Tensor
  const values = y.dataSync() as Float32Array
  tf.dispose([x, y])
  return values
}

/** Runs `body` and reports the ModelFileError it throws. */
async function failure(body: () => Promise<unknown>): Promise<ModelFileError> {
  try {
    await body()
  } catch (error) {
    if (error instanceof ModelFileError) return error
    throw error
  }
  throw new Error('expected a ModelFileError')
}

const shardFiles = (d: string) => readdirSync(d).filter((f) => f.endsWith('.bin')).sort()

describe('saveModel / loadModel', () => {
  it('round-trips a model: identical predictions, standard layout, no leaked tensors', async () => {
    const model = smallNet(1)
    const before = predict(model)
    const tensors = tf.memory().numTensors
    await saveModel(model, dir)
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'))
    expect(json.format).toBe('layers-model')
    expect(json.weightsManifest).toHaveLength(1)
    expect(json.weightsManifest[0].paths).toEqual(shardFiles(dir).map((f) => `./${f}`))
    const loaded = await loadModel(dir)
    expect(predict(loaded)).toEqual(before)
    loaded.dispose()
    expect(tf.memory().numTensors).toBe(tensors)
    model.dispose()
  })

  it('accepts the path of model.json as well as its folder, and file:// URLs', async () => {
    const model = smallNet(2)
    await saveModel(model, pathToFileURL(dir).href)
    const loaded = await loadModel(join(dir, 'model.json'))
    expect(predict(loaded)).toEqual(predict(model))
    const viaUrl = await loadModel(pathToFileURL(join(dir, 'model.json')).href)
    expect(predict(viaUrl)).toEqual(predict(model))
    viaUrl.dispose()
    model.dispose()
    loaded.dispose()
  })

  it('splits weights into shards that tfjs loads through its own HTTP loader, as a browser would', async () => {
    const model = smallNet(3)
    await saveModel(model, dir, { shardSizeBytes: 256 })
    const shards = shardFiles(dir)
    expect(shards.length).toBeGreaterThan(2)
    for (const f of shards) expect(f).toMatch(new RegExp(`^group1-shard\\d+of${shards.length}-[0-9a-f]{16}\\.bin$`))
    // tfjs's own loader resolves the manifest paths against model.json's URL, as in a browser.
    const fetchFunc = async (url: RequestInfo | URL) => {
      const file = join(dir, new URL(String(url)).pathname.replace('/model/', ''))
      return new Response(readFileSync(file))
    }
    const viaHttp = await tfl.loadLayersModel(tf.io.http('http://localhost/model/model.json', { fetchFunc }))
    expect(predict(viaHttp)).toEqual(predict(model))
    viaHttp.dispose()
    model.dispose()
  })

  it("reads a model in tfjs-node's layout (model.json + weights.bin), and writes one its loader reads", async () => {
    const model = smallNet(9)
    await saveModel(model, dir, { shardSizeBytes: 200 })
    // tfjs-node's file:// loader: each manifest path joined to model.json's folder, the files concatenated.
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'))
    const paths: string[] = json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths)
    const weights = Buffer.concat(paths.map((p) => readFileSync(join(dir, p))))
    const asNodeLoads = await tfl.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: new Uint8Array(weights).buffer }),
    )
    expect(predict(asNodeLoads)).toEqual(predict(model))
    // What tfjs-node's model.save('file://…') writes: one weights.bin, listed without './'.
    const nodeDir = `${dir}-node`
    mkdirSync(nodeDir)
    writeFileSync(join(nodeDir, 'weights.bin'), weights)
    writeFileSync(join(nodeDir, 'model.json'), JSON.stringify({ ...json, weightsManifest: [{ paths: ['weights.bin'], weights: json.weightsManifest[0].weights }] }))
    const loaded = await loadModel(nodeDir)
    expect(predict(loaded)).toEqual(predict(model))
    for (const m of [model, asNodeLoads, loaded]) m.dispose()
  })

  it('replaces a previous save and removes its weight files', async () => {
    const first = smallNet(4)
    await saveModel(first, dir)
    const old = shardFiles(dir)
    const second = smallNet(5)
    await saveModel(second, dir)
    const now = shardFiles(dir)
    expect(now.some((f) => old.includes(f))).toBe(false)
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([])
    const loaded = await loadModel(dir)
    expect(predict(loaded)).toEqual(predict(second))
    expect(predict(loaded)).not.toEqual(predict(first))
    for (const m of [first, second, loaded]) m.dispose()
  })

  it('keeps the optimizer state when asked, so training resumes where it stopped', async () => {
    const model = smallNet(6)
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'binaryCrossentropy' })
    const x = probe()
    const y = tf.tidy(() => tf.cast(tf.greater(x, 0), "float32"))
    await model.trainOnBatch(x, y)
    await model.trainOnBatch(x, y)
    await saveModel(model, dir, { includeOptimizer: true })
    const loaded = await loadModel(dir)
    expect(loaded.optimizer).toBeDefined()
    const savedState = await model.optimizer.getWeights()
    const loadedState = await loaded.optimizer.getWeights()
    expect(loadedState.map((w) => Array.from(w.tensor.dataSync()))).toEqual(savedState.map((w) => Array.from(w.tensor.dataSync())))
    // A copy of the weights with a fresh optimizer: what loading without the optimizer state would give.
    await saveModel(model, `${dir}-plain`)
    const fresh = await loadModel(`${dir}-plain`)
    fresh.compile({ optimizer: tf.train.adam(0.01), loss: 'binaryCrossentropy' })
    // One more step from the same state lands on the same weights; from a fresh state it does not.
    for (const m of [model, loaded, fresh]) await m.trainOnBatch(x, y)
    const gap = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number))))
    expect(gap(predict(loaded), predict(model))).toBeLessThan(1e-5)
    expect(gap(predict(fresh), predict(model))).toBeGreaterThan(1e-3)
    tf.dispose([x, y])
    for (const m of [model, loaded, fresh]) m.dispose()
  })

  it('restores the optimizer state of a model trained with a loss function when given the loss', async () => {
    const bce = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.logLoss(yTrue, yPred)
    const model = smallNet(8)
    model.compile({ optimizer: tf.train.adam(0.01), loss: bce })
    const x = probe()
    const y = tf.tidy(() => tf.cast(tf.greater(x, 0), 'float32'))
    await model.trainOnBatch(x, y)
    await saveModel(model, dir, { includeOptimizer: true })

    // Without the loss, tfjs cannot compile it: the weights load, the model comes back uncompiled.
    const plain = await loadModel(dir)
    expect(plain.optimizer).toBeUndefined()
    expect(predict(plain)).toEqual(predict(model))

    const resumed = await loadModel(dir, { loss: bce })
    expect(resumed.optimizer.getClassName()).toBe('Adam')
    const saved = (await model.optimizer.getWeights()).map((w) => Array.from(w.tensor.dataSync()))
    expect((await resumed.optimizer.getWeights()).map((w) => Array.from(w.tensor.dataSync()))).toEqual(saved)
    for (const m of [model, resumed]) await m.trainOnBatch(x, y)
    const gap = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number))))
    expect(gap(predict(resumed), predict(model))).toBeLessThan(1e-5)
    tf.dispose([x, y])
    for (const m of [model, plain, resumed]) m.dispose()
  })

  it('leaves the optimizer out by default', async () => {
    const model = smallNet(7)
    model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' })
    await saveModel(model, dir)
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'))
    expect(json.trainingConfig).toBeUndefined()
    expect(json.weightsManifest[0].weights.some((w: { group?: string }) => w.group === 'optimizer')).toBe(false)
    model.dispose()
  })
})

describe('loadModel on damaged files', () => {
  async function saved(seed: number, shardSizeBytes?: number): Promise<string[]> {
    const model = smallNet(seed)
    await saveModel(model, dir, shardSizeBytes === undefined ? {} : { shardSizeBytes })
    model.dispose()
    return shardFiles(dir)
  }

  it('names a truncated weight file', async () => {
    const [shard] = await saved(10)
    const file = join(dir, shard as string)
    truncateSync(file, 100)
    const error = await failure(() => loadModel(dir))
    expect(error.code).toBe('WEIGHTS_SIZE_MISMATCH')
    expect(error.file).toBe(file)
    expect(error.message).toMatch(/truncated/)
  })

  it('names a weight file whose bytes were replaced', async () => {
    const [shard] = await saved(11)
    const file = join(dir, shard as string)
    const bytes = readFileSync(file)
    bytes[7] = (bytes[7] as number) ^ 0xff
    writeFileSync(file, bytes)
    const error = await failure(() => loadModel(dir))
    expect(error.code).toBe('WEIGHTS_CHECKSUM_MISMATCH')
    expect(error.file).toBe(file)
  })

  it('names a missing weight file', async () => {
    const shards = await saved(12, 512)
    const file = join(dir, shards[1] as string)
    rmSync(file)
    const error = await failure(() => loadModel(dir))
    expect(error.code).toBe('WEIGHTS_MISSING')
    expect(error.file).toBe(file)
  })

  it('names a truncated model.json', async () => {
    await saved(13)
    const file = join(dir, 'model.json')
    const text = readFileSync(file, 'utf8')
    writeFileSync(file, text.slice(0, text.length / 2))
    const error = await failure(() => loadModel(dir))
    expect(error.code).toBe('MODEL_JSON_INVALID')
    expect(error.file).toBe(file)
    expect(error.message).toContain(file)
  })

  it('rejects a JSON file that is not a model', async () => {
    await saved(14)
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ hello: 'world' }))
    expect((await failure(() => loadModel(dir))).code).toBe('MODEL_JSON_INVALID')
  })

  it('reports a missing model.json with what to pass instead', async () => {
    const error = await failure(() => loadModel(join(root, 'nowhere')))
    expect(error.code).toBe('MODEL_JSON_MISSING')
    expect(error.message).toMatch(/pass the folder/)
  })

  it('reports weights whose shapes do not fit the topology', async () => {
    await saved(15)
    const file = join(dir, 'model.json')
    const json = JSON.parse(readFileSync(file, 'utf8'))
    // Same byte count, wrong shape: swap the first kernel's two spatial sizes for a 1×9 kernel.
    json.weightsManifest[0].weights[0].shape = [1, 9, 1, 4]
    writeFileSync(file, JSON.stringify(json))
    const error = await failure(() => loadModel(dir))
    expect(error.code).toBe('MODEL_WEIGHTS_MISMATCH')
    expect(error.file).toBe(file)
  })

  it('refuses weight paths that leave the model folder', async () => {
    await saved(16)
    const file = join(dir, 'model.json')
    const json = JSON.parse(readFileSync(file, 'utf8'))
    json.weightsManifest[0].paths = ['../../etc/passwd']
    writeFileSync(file, JSON.stringify(json))
    expect((await failure(() => loadModel(dir))).code).toBe('MODEL_JSON_INVALID')
  })
})
