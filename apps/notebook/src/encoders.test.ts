import { expect, it } from 'vitest'
import { importForNotebook } from './resolve'

it('lets a cell import every encoder package by name and build a U-Net over any of them', async () => {
  const tf = await importForNotebook('@tensorflow/tfjs-core', process.cwd())
  await importForNotebook('@tensorflow/tfjs-backend-cpu', process.cwd())
  await (tf.setBackend as (name: string) => Promise<boolean>)('cpu')
  const layers = await importForNotebook('@unet/layers', process.cwd())
  const resnet = await importForNotebook('@unet/resnet-encoder', process.cwd())
  const vgg = await importForNotebook('@unet/vgg-encoder', process.cwd())
  expect(resnet.ENCODERS).toEqual(['resnet18', 'resnet34', 'resnet50', 'seresnet18', 'seresnet34', 'seresnet50'])
  const createUnet = layers.createUnet as (o: object) => { name: string; dispose(): void }
  for (const encoder of [(resnet.resnetEncoder as (n: string) => object)('seresnet18'), (vgg.vggEncoder as () => object)()]) {
    const model = createUnet({ encoder, inputShape: [32, 32, 1], decoderFilters: [2, 2, 2, 2, 2] })
    expect(model.name).toMatch(/^(seresnet18|vgg16)_unet$/)
    model.dispose()
  }
}, 60_000)
