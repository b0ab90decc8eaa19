import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { cliIn } from './cli-runner'
import { writeCarvanaLike, writeWhaleLike } from './fixtures'

const work = mkdtempSync(join(tmpdir(), 'unet-e2e-datasets-'))

const unet = cliIn(work, { UNET_DEBUG: '1' })

interface Epoch {
  valDice: number
}
const history = (run: string): Epoch[] => JSON.parse(readFileSync(join(run, 'history.json'), 'utf8')) as Epoch[]
const runFile = (run: string) => JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as Record<string, unknown>

// the Dice of predicting all foreground (what a model that learned nothing but "say yes" gets); empty masks get 0
const FULL_MASK_DICE = 0.45

describe('unet train on other layouts, end to end', () => {
  const carvana = join(work, 'carvana')
  const whales = join(work, 'whales')
  beforeAll(async () => {
    await writeCarvanaLike(carvana, { cars: 7, views: 4, width: 96, height: 64 })
    await writeWhaleLike(whales, 24)
  })

  it('Carvana layout (RGB JPEG + GIF masks, 3:2): learns far above the empty and all-ones baselines', async () => {
    const run = join(work, 'carvana-run')
    const r = await unet(
      'train', '--data', carvana, '--out', run, '--image-size', '48x32', '--depth', '2', '--filters', '8', '--batch-size', '4', '--epochs', '8',
      '--lr', '0.01', '--group-by', 'carvana', '--augment', 'horizontal_flip', '--seed', '3', '--quiet', '--backend', 'wasm',
    )
    expect(r.stderr).not.toMatch(/error/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/best val_dice 0\.\d{4} at epoch \d/)
    const best = Math.max(...history(run).map((h) => h.valDice))
    expect(best).toBeGreaterThan(FULL_MASK_DICE + 0.3)
    expect(runFile(run)).toMatchObject({
      layout: 'carvana',
      input: { width: 48, height: 32, channels: 3 },
      rle: { order: 'row', idColumn: 'img', idSuffix: '.jpg' },
      monitor: { name: 'val_dice', mode: 'max' },
    })
    // the report's colour key names the foreground of the data: the car
    const report = readFileSync(join(run, 'report', 'index.html'), 'utf8')
    expect(report).toContain('car missed')
    expect(report).not.toContain('salt')
  }, 300_000)

  it('whale-fluke folder pair (RGB JPEGs of many sizes, JPEG masks > 108) at 64x32 letterboxed, from a YAML config', async () => {
    const run = join(work, 'whale-run')
    const config = join(work, 'whales.yaml')
    writeFileSync(
      config,
      [
        `images: ${join(whales, 'images')}`,
        `masks: ${join(whales, 'masks')}`,
        'maskThreshold: 108',
        'imageSize: 64x32',
        'resize: letterbox',
        'depth: 2',
        'filters: 8',
        'batchSize: 4',
        'epochs: 8',
        'lr: 0.01',
        'augment:',
        '  - horizontal_flip',
        '  - name: rotate',
        '    limit: 5',
        '    p: 0.3',
        'seed: 4',
      ].join('\n') + '\n',
    )
    const cache = join(work, 'whale-cache')
    const r = await unet('train', '--config', config, '--out', run, '--quiet', '--backend', 'wasm', '--cache-dir', cache)
    expect(r.stderr).not.toMatch(/error/)
    expect(r.code).toBe(0)
    // each train photo was decoded once and kept resized in the cache folder the user named (the validation photos
    // are scored at their own size, so they are decoded each epoch instead)
    const cached = readdirSync(cache).filter((f) => f.endsWith('.bin')).length
    expect(cached).toBeGreaterThan(12)
    expect(cached).toBeLessThan(24)
    expect(readFileSync(join(run, 'report', 'index.html'), 'utf8')).toContain('foreground missed')
    const best = Math.max(...history(run).map((h) => h.valDice))
    expect(best).toBeGreaterThan(FULL_MASK_DICE + 0.3)
    expect(runFile(run)).toMatchObject({ layout: 'folders', input: { width: 64, height: 32, channels: 3 }, prepare: { mode: 'letterbox', pad: 'reflect' } })
    const saved = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<string, unknown>
    expect(saved).toMatchObject({ imageSize: 64, imageHeight: 32, maskThreshold: 108, channels: 3, monitor: 'val_dice' })
  }, 300_000)

  it('checks flags and config keys, one line per problem with the valid choices', async () => {
    const r = await unet('train', '--data', carvana, '--image-size', '50x30', '--depth', '2', '--augment', 'twirl', '--out', join(work, 'bad'))
    expect(r.code).toBe(1)
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('unet: error:'))
    expect(lines.length).toBeGreaterThanOrEqual(2)
    expect(r.stderr).toMatch(/--image-size must be divisible by 2\^depth = 4/)
    expect(r.stderr).toMatch(/--augment .*horizontal_flip/)
  }, 60_000)

  it("refuses each bad input of the issue's list in one line: names, --momentum with adam, a monitor the data cannot produce", async () => {
    const errorLines = (stderr: string): string[] => stderr.trim().split('\n').filter((l) => /^(unet: )?error:/.test(l))
    for (const [flags, pattern] of [
      [['--optimizer', 'nadam'], /'nadam' is invalid\. Allowed choices are adam, sgd, rmsprop\./],
      [['--monitor', 'val_acc'], /'val_acc' is invalid\. Allowed choices are val_tgs, val_dice, val_iou, val_pixel_accuracy, val_loss\./],
      [['--lr-schedule', 'linear'], /'linear' is invalid\. Allowed choices are plateau, cosine, step, none\./],
      [['--momentum', '0.9'], /--momentum must be left out with --optimizer adam \(adam has no momentum setting; use --optimizer sgd or rmsprop, or drop --momentum\)/],
      [['--image-size', '100', '--depth', '3'], /--image-size must be divisible by 2\^depth = 8 \(e\.g\. 104\), got 100/],
    ] as const) {
      const r = await unet('train', '--data', carvana, '--out', join(work, 'bad-input'), ...flags)
      expect(r.code).toBe(1)
      expect(errorLines(r.stderr)).toHaveLength(1)
      expect(errorLines(r.stderr)[0]).toMatch(pattern)
    }
    // no validation mask with a single foreground pixel: Dice, IoU, TGS score and pixel accuracy cannot judge
    const empty = join(work, 'empty-masks')
    await writeWhaleLike(empty, 6, { emptyMasks: true })
    const refused = await unet('train', '--data', empty, '--mask-threshold', '108', '--monitor', 'val_dice', '--out', join(work, 'empty-run'))
    expect(refused.code).toBe(1)
    expect(errorLines(refused.stderr)).toEqual([
      `unet: error: --monitor val_dice cannot judge ${empty}: its validation masks (1) have no foreground pixel, so predicting nothing scores 1 and no model can beat it; use --monitor val_loss, or give masks with foreground (another --seed or --val-split moves images into validation)`,
    ])
    // left to its default there, the run monitors the validation loss and says so
    const run = join(work, 'empty-default')
    const r = await unet('train', '--data', empty, '--mask-threshold', '108', '--image-size', '16', '--depth', '1', '--filters', '2', '--epochs', '1', '--out', run, '--quiet', '--backend', 'wasm', '--report-images', '0')
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/val_dice cannot judge .*; monitoring val_loss instead/)
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'))).toMatchObject({ monitor: 'val_loss' })
  }, 120_000)
})
