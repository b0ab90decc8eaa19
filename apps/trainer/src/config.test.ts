import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_TRAIN_CONFIG, readConfigFile, resolveTrainConfig } from './config'
import { TrainerError } from './errors'

describe('resolveTrainConfig', () => {
  it('layers defaults, then file, then flags', () => {
    const c = resolveTrainConfig({ epochs: 3, filters: 4 }, { filters: 2, data: undefined })
    expect(c.epochs).toBe(3)
    expect(c.filters).toBe(2)
    expect(c.depth).toBe(DEFAULT_TRAIN_CONFIG.depth)
    expect(c.data).toBeNull()
  })
  it('names the flag and the bad value', () => {
    expect(() => resolveTrainConfig({ epochs: 0 })).toThrow(/--epochs must be an integer ≥ 1, got 0/)
    expect(() => resolveTrainConfig({ imageSize: 100, depth: 3 })).toThrow(/--image-size must be divisible by 2\^depth = 8 \(e\.g\. 104\)/)
    expect(() => resolveTrainConfig({ folds: 5, fold: 5 })).toThrow(/--fold must be below --folds/)
    expect(() => resolveTrainConfig({ augment: ['twirl'] })).toThrow(TrainerError)
  })

  it('lists every bad value, one line each, with the valid choices from the declarations', () => {
    let error: TrainerError | null = null
    try {
      resolveTrainConfig({ optimizer: 'nadam' as never, monitor: 'val_acc' as never, lrSchedule: 'linear' as never, momentum: 0.9, epochs: 0 })
    } catch (e) {
      error = e as TrainerError
    }
    expect(error?.problems).toEqual([
      '--epochs must be an integer ≥ 1, got 0',
      '--optimizer must be one of adam, sgd, rmsprop, got "nadam"',
      '--monitor must be one of val_tgs, val_dice, val_iou, val_pixel_accuracy, val_loss, got "val_acc"',
      '--lr-schedule must be one of plateau, cosine, step, none, got "linear"',
    ])
    expect(() => resolveTrainConfig({ momentum: 0.9 })).toThrow(/^--momentum must be left out with --optimizer adam \(adam has no momentum setting; use --optimizer sgd or rmsprop, or drop --momentum\), got 0\.9$/)
    expect(resolveTrainConfig({ optimizer: 'sgd', momentum: 0.99 }).momentum).toBe(0.99)
  })
})

describe('readConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unet-config-'))
  it('reads a JSON object', async () => {
    const file = join(dir, 'ok.json')
    writeFileSync(file, '{"epochs": 7, "loss": "dice"}')
    expect(await readConfigFile(file)).toEqual({ epochs: 7, loss: 'dice' })
  })
  it('refuses unknown keys, listing the valid ones', async () => {
    const file = join(dir, 'bad.json')
    writeFileSync(file, '{"epoch": 7}')
    await expect(readConfigFile(file)).rejects.toThrow(/unknown key\(s\) epoch; valid keys: data, layout, images, masks/)
  })
  it('reads YAML with a real YAML library: WxH sizes, augmentation lists and objects, and says where a YAML error is', async () => {
    const file = join(dir, 'run.yaml')
    writeFileSync(file, ['# a whale-fluke run', 'imageSize: 384x192', 'maskThreshold: 108', 'augment:', '  - hflip', '  - { name: rotate, limit: 5, p: 0.3 }', 'optimizer: sgd', 'momentum: 0.9'].join('\n'))
    const read = await readConfigFile(file)
    expect(read).toEqual({ imageSize: 384, imageHeight: 192, maskThreshold: 108, augment: ['hflip', { name: 'rotate', limit: 5, p: 0.3 }], optimizer: 'sgd', momentum: 0.9 })
    expect(resolveTrainConfig(read, { depth: 2 }).augment).toHaveLength(2)
    const broken = join(dir, 'broken.yaml')
    writeFileSync(broken, 'epochs: 3\naugment: [hflip\n')
    await expect(readConfigFile(broken)).rejects.toThrow(/broken\.yaml line \d+, column \d+ is not valid YAML/)
  })
  it('says when the file is not JSON', async () => {
    const file = join(dir, 'broken.json')
    writeFileSync(file, '{epochs: 7')
    await expect(readConfigFile(file)).rejects.toMatchObject({ code: 'BAD_CONFIG', message: expect.stringContaining('not valid JSON') })
  })
})
