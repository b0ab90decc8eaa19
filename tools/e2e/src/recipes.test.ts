import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { cliIn } from './cli-runner'

const work = mkdtempSync(join(tmpdir(), 'unet-e2e-recipes-'))
const data = join(work, 'data')

// tiny: seconds per fold on two busy cores
const TINY = ['--image-size', '32', '--depth', '2', '--filters', '2', '--batch-size', '8', '--epochs', '1', '--report-images', '0', '--backend', 'cpu', '--quiet']

const unet = cliIn(work)

describe('the TGS winners\' recipes from the command line', () => {
  beforeAll(async () => {
    const r = await unet('synth', '--out', data, '--count', '24', '--test-count', '4', '--seed', '5')
    expect(r.code, r.stderr).toBe(0)
  }, 60_000)

  it('kfold with deep supervision and a loss schedule → predict the folds\' average → pseudo-label a new round', async () => {
    const cv = join(work, 'cv')
    const recipe = ['--deep-supervision', '--decoder-attention', 'scse', '--hypercolumn', '--loss-schedule', 'bce_dice@0,lovasz_hinge@1']
    const k = await unet('kfold', '--folds', '2', '--data', data, '--out', cv, ...TINY, ...recipe)
    expect(k.code, k.stderr).toBe(0)
    expect(k.stdout).toMatch(/2 folds finished/)
    const manifest = JSON.parse(readFileSync(join(cv, 'kfold.json'), 'utf8'))
    expect(manifest.runs.map((r: { status: string }) => r.status)).toEqual(['finished', 'finished'])
    expect(JSON.parse(readFileSync(join(cv, 'fold-1', 'run.json'), 'utf8')).emptyClassifier).toEqual({ output: 'has_mask', threshold: 0.5 })
    // again: nothing left to train
    const again = await unet('kfold', '--folds', '2', '--data', data, '--out', cv, ...TINY, ...recipe)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr.match(/finished already/g)).toHaveLength(2)

    const p = await unet('predict', '--model', cv, '--data', data, '--tta', 'hflip', '--out', join(work, 'sub.csv'), '--empty-threshold', 'none', '--backend', 'cpu')
    expect(p.code, p.stderr).toBe(0)
    expect(p.stderr).toMatch(/averaging 2 folds/)
    expect(readFileSync(join(work, 'sub.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 4)

    // the whole range counts as confident: every test image is added
    const round = join(work, 'round2')
    const pl = await unet('pseudo-label', '--model', cv, '--test', join(data, 'test', 'images'), '--out', round, '--confident-below', '1', '--confident-above', '1', '--epochs', '1')
    expect(pl.code, pl.stderr).toBe(0)
    expect(pl.stderr).toMatch(/4 of 4 test images are confident/)
    const record = JSON.parse(readFileSync(join(round, 'pseudo-labels.json'), 'utf8'))
    expect(record.ids).toHaveLength(4)
    // the new round trained with the source's config (deep supervision) and the pseudo labels
    const config = JSON.parse(readFileSync(join(round, 'config.json'), 'utf8'))
    expect([config.deepSupervision, config.pseudoLabels]).toEqual([true, join(round, 'pseudo')])
    expect(existsSync(join(round, 'run.json'))).toBe(true)
  }, 240_000)

  it('refuses a bad loss schedule in one line that lists the loss names', async () => {
    const r = await unet('train', '--loss-schedule', 'bce_dice@0,lovaz@3', '--out', join(work, 'bad'))
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')[0]).toMatch(/"lovaz" is not a known loss; .*bce_dice, jaccard, focal, lovasz_hinge/)
  }, 30_000)
})
