import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'
import { PredictError } from './errors'
import { predictProbabilities, predictTensor } from './probabilities'
import { parseTtaViews, type TtaView } from './tta'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

const H = 4
const W = 6

/** A deliberately asymmetric model: each output pixel is the input pixel up and to the left of it (0 off the edge). */
function upLeftModel(fixed: boolean): tfl.LayersModel {
  const model = tfl.sequential()
  model.add(tfl.layers.conv2d({ inputShape: fixed ? [H, W, 1] : [null, null, 1], filters: 1, kernelSize: 3, padding: 'same', useBias: false }))
  const kernel = new Float32Array(9)
  kernel[0] = 1 // row 0, column 0 of the 3×3 window: the pixel at (i-1, j-1)
  model.setWeights([tf.tensor4d(kernel, [3, 3, 1, 1])])
  return model
}

/** A rectangular image whose every pixel differs. */
const image = Float32Array.from({ length: H * W }, (_, k) => (k + 1) / (H * W))
const at = (x: Float32Array, i: number, j: number): number => (i < 0 || j < 0 || i >= H || j >= W ? 0 : (x[i * W + j] as number))
const shifted = (x: Float32Array, di: number, dj: number): Float32Array => Float32Array.from({ length: H * W }, (_, k) => at(x, Math.floor(k / W) + di, (k % W) + dj))
const reflect = (n: number, size: number): number => (n < 0 ? -n : n >= size ? 2 * size - 2 - n : n)
const blurred = (x: Float32Array): Float32Array =>
  Float32Array.from({ length: H * W }, (_, k) => {
    const i = Math.floor(k / W)
    const j = k % W
    let s = 0
    for (let a = -1; a <= 1; a++) for (let b = -1; b <= 1; b++) s += x[reflect(i + a, H) * W + reflect(j + b, W)] as number
    return s / 9
  })

// what the up-left model sees through each view, undone by hand: a mirror turns "up-left" into another diagonal
const plain = shifted(image, -1, -1)
const expectedView: Record<TtaView, Float32Array> = {
  hflip: shifted(image, -1, +1), // mirrored left-right, the left neighbour is the right one
  vflip: shifted(image, +1, -1), // mirrored top-bottom, the upper neighbour is the lower one
  rot90: shifted(image, -1, +1), // turned counter-clockwise, the rotated frame's "up-left" is the original's up-right
  blur: shifted(blurred(image), -1, -1),
}

async function tta(model: tfl.LayersModel, views: TtaView[]): Promise<Float32Array> {
  const [p] = await predictProbabilities(model, { data: image, count: 1, height: H, width: W, channels: 1 }, { activation: 'sigmoid', tta: views })
  return p as Float32Array
}

describe('TTA views on a rectangular image and an asymmetric model', () => {
  for (const view of ['hflip', 'vflip', 'rot90', 'blur'] as TtaView[]) {
    it(`undoes ${view} on the right axis`, async () => {
      const model = upLeftModel(view !== 'rot90')
      const got = await tta(model, [view])
      const want = plain.map((p, k) => (p + (expectedView[view][k] as number)) / 2)
      expect(Array.from(got)).toEqual(Array.from(want).map((v) => expect.closeTo(v, 6)))
      model.dispose()
    })
  }

  it('averages all views with the plain one', async () => {
    const model = upLeftModel(false)
    const views: TtaView[] = ['hflip', 'vflip', 'rot90', 'blur']
    const got = await tta(model, views)
    const want = plain.map((p, k) => (p + views.reduce((s, v) => s + (expectedView[v][k] as number), 0)) / 5)
    expect(Array.from(got)).toEqual(Array.from(want).map((v) => expect.closeTo(v, 6)))
    model.dispose()
  })

  it('refuses rot90 on a fixed non-square model input', async () => {
    const model = upLeftModel(true)
    await expect(tta(model, ['rot90'])).rejects.toThrow(/rot90 needs a square model input.*6×4/)
    model.dispose()
  })

  it('applies a sigmoid to logits and leaks no tensors', async () => {
    const model = upLeftModel(true)
    const before = tf.memory().numTensors
    const x = tf.tensor4d(image, [1, H, W, 1])
    const p = predictTensor(model, x, { activation: 'linear', tta: ['hflip'] })
    const want = plain.map((v, k) => (1 / (1 + Math.exp(-v)) + 1 / (1 + Math.exp(-(expectedView.hflip[k] as number)))) / 2)
    expect(Array.from(p.dataSync())).toEqual(Array.from(want).map((v) => expect.closeTo(v, 6)))
    tf.dispose([p, x])
    expect(tf.memory().numTensors).toBe(before)
    model.dispose()
  })

  it('refuses images with the wrong channel count, naming both', async () => {
    const model = upLeftModel(true)
    const data = new Float32Array(H * W * 3)
    await expect(predictProbabilities(model, { data, count: 1, height: H, width: W, channels: 3 }, { activation: 'sigmoid' })).rejects.toThrow(
      expect.objectContaining({ code: 'MODEL_MISMATCH', message: expect.stringMatching(/takes 1-channel images but was given 3-channel/) }),
    )
    model.dispose()
  })

  it('predicts in batches that keep images apart', async () => {
    const model = upLeftModel(true)
    const data = new Float32Array(3 * H * W)
    data.set(image, 0)
    data.set(image.map((v) => 1 - v), 2 * H * W)
    const maps = await predictProbabilities(model, { data, count: 3, height: H, width: W, channels: 1 }, { activation: 'sigmoid', batchSize: 2 })
    expect(maps).toHaveLength(3)
    expect(Array.from(maps[0] as Float32Array)).toEqual(Array.from(plain).map((v) => expect.closeTo(v, 6)))
    expect(Array.from(maps[1] as Float32Array).every((v) => v === 0)).toBe(true)
    expect(Array.from(maps[2] as Float32Array)).toEqual(Array.from(shifted(image.map((v) => 1 - v), -1, -1)).map((v) => expect.closeTo(v, 6)))
    model.dispose()
  })
})

describe('parseTtaViews', () => {
  it('reads a comma list, none and duplicates', () => {
    expect(parseTtaViews('hflip, blur,hflip')).toEqual(['hflip', 'blur'])
    expect(parseTtaViews('none')).toEqual([])
  })
  it('names an unknown view and the valid ones', () => {
    expect(() => parseTtaViews('hflip,flop')).toThrow(PredictError)
    expect(() => parseTtaViews('flop')).toThrow('unknown TTA view "flop"; use a comma list of hflip, vflip, rot90, blur, or none')
  })
})
