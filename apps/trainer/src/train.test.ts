import * as tf from '@tensorflow/tfjs-core'
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import '@tensorflow/tfjs-backend-cpu'
import { parseRunFile } from '@unet/predict'
import { findCheckpoint, readState } from '@unet/train'
import { beforeAll, describe, expect, it } from 'vitest'
import { resolveTrainConfig, type TrainConfig } from './config'
import { consoleReporter, silentReporter, type TrainReporter } from './progress'
import { synth } from './synth'
import { train } from './train'

// Tiny enough to train in seconds on the cpu backend: 12 synthetic images at 16×16.
function tiny(out: string, extra: Partial<TrainConfig> = {}): TrainConfig {
  return resolveTrainConfig({
    out,
    backend: 'cpu',
    synthTrain: 12,
    synthTest: 2,
    imageSize: 16,
    depth: 1,
    filters: 2,
    batchSize: 4,
    epochs: 2,
    valSplit: 0.25,
    augment: ['flip', 'brightness'],
    lrPatience: 1,
    reportImages: 2,
    ...extra,
  })
}

const root = mkdtempSync(join(tmpdir(), 'unet-train-'))
const last = (dir: string): string => findCheckpoint(join(dir, 'checkpoints'), 'last') as string
// the model's weight bytes, whatever the weight files are called
const weights = (folder: string): Buffer => {
  const manifest = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] }
  return Buffer.concat(manifest.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(folder, p)))))
}

function recording(): TrainReporter & { warnings: string[] } {
  const warnings: string[] = []
  return { ...silentReporter(), warnings, warn: (t: string) => warnings.push(t) }
}

describe('train', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('resumed after an interrupt, ends exactly where an uninterrupted run ends', async () => {
    const before = tf.memory().numTensors
    const a = await train(tiny(join(root, 'a')), { report: false })
    expect(a.stopReason).toEqual({ kind: 'completed' })
    expect(a.history).toHaveLength(2)
    expect(tf.memory().numTensors).toBe(before)

    // interrupt in the middle of the second epoch (3 steps per epoch: 9 train images, batches of 4)
    const controller = new AbortController()
    const b1 = await train(tiny(join(root, 'b')), {
      report: false,
      signal: controller.signal,
      lossOverride: (step, loss) => {
        if (step === 3) controller.abort()
        return loss
      },
    })
    expect(b1.stopReason).toEqual({ kind: 'interrupted' })
    expect(b1.finished).toBe(false)
    const cut = await readState(join(root, 'b', 'checkpoints'), 'last')
    expect([cut.epoch, cut.step, cut.globalStep]).toEqual([1, 1, 4])
    // a run saved before a config key existed (here cacheDir) resumes with that key's default
    const savedConfig = JSON.parse(readFileSync(join(root, 'b', 'config.json'), 'utf8')) as Record<string, unknown>
    delete savedConfig.cacheDir
    writeFileSync(join(root, 'b', 'config.json'), JSON.stringify(savedConfig))

    const b2 = await train(tiny(join(root, 'b')), { resume: true, report: false })
    expect(b2.stopReason).toEqual({ kind: 'completed' })
    expect(b2.steps).toBe(a.steps)
    const strip = (h: typeof a.history) => h.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest)
    expect(strip(b2.history)).toEqual(strip(a.history))
    expect(weights(last(join(root, 'b'))).equals(weights(last(join(root, 'a'))))).toBe(true)
    expect(readFileSync(join(last(join(root, 'b')), 'optimizer.bin')).equals(readFileSync(join(last(join(root, 'a')), 'optimizer.bin')))).toBe(true)
    expect(tf.memory().numTensors).toBe(before)
  }, 240_000)

  it('writes run.json as docs/run-format.md says, pointing at the best model', async () => {
    const dir = join(root, 'a')
    const run = parseRunFile(readFileSync(join(dir, 'run.json'), 'utf8'), 'run.json')
    const best = await readState(join(dir, 'checkpoints'), 'best')
    expect(run).toMatchObject({
      format: 'unet-run',
      version: 2,
      input: { width: 16, height: 16, channels: 1 },
      prepare: { mode: 'resize' },
      output: { classes: 1, activation: 'sigmoid' },
      layout: 'synthetic',
      rle: { order: 'column', idColumn: 'id', idSuffix: '' },
      monitor: { name: 'val_tgs', mode: 'max', best: best.best?.value, epoch: best.best?.epoch },
      threshold: best.best?.threshold,
      encoder: 'plain',
    })
    expect(join(dir, run.model)).toBe(join(findCheckpoint(join(dir, 'checkpoints'), 'best') as string, 'model.json'))
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ imageSize: 16, seed: 42, monitor: 'val_tgs', optimizer: 'adam' })
    expect(readFileSync(join(dir, 'history.csv'), 'utf8').trim().split('\n')).toHaveLength(3)
    expect(existsSync(join(dir, 'report'))).toBe(false)
  })

  it('stops on a NaN loss without touching the best checkpoint', async () => {
    const dir = join(root, 'nan')
    const s = await train(tiny(dir, { epochs: 3 }), { report: false, lossOverride: (step, loss) => (step === 4 ? NaN : loss) })
    expect(s.stopReason).toMatchObject({ kind: 'nan_loss', globalStep: 4 })
    expect(s.history).toHaveLength(1)
    expect((await readState(join(dir, 'checkpoints'), 'best')).epoch).toBe(1)
    const l = await readState(join(dir, 'checkpoints'), 'last')
    expect([l.epoch, l.step]).toEqual([1, 0])
    expect(weights(last(dir)).equals(weights(findCheckpoint(join(dir, 'checkpoints'), 'best') as string))).toBe(true)
  }, 240_000)

  it('stops at the time limit, and --resume with a larger limit finishes the same run', async () => {
    const dir = join(root, 'timed')
    const cut = await train(tiny(dir, { timeLimit: 1e-6 }), { report: false })
    expect(cut.stopReason).toEqual({ kind: 'time_limit', seconds: 1e-6 })
    expect(cut.finished).toBe(false)
    expect(cut.steps).toBe(1)
    const done = await train(tiny(dir, { timeLimit: 0 }), { resume: true, report: false, explicitKeys: ['timeLimit'] })
    expect(done.stopReason).toEqual({ kind: 'completed' })
    expect(weights(last(dir)).equals(weights(last(join(root, 'a'))))).toBe(true)
  }, 240_000)

  it('refuses to overwrite a run and refuses config changes on resume', async () => {
    await expect(train(tiny(join(root, 'a')))).rejects.toMatchObject({ code: 'BAD_FLAG' })
    await expect(train(tiny(join(root, 'a'), { filters: 3 }), { resume: true, explicitKeys: ['filters'] })).rejects.toMatchObject({ code: 'RESUME_MISMATCH' })
    await expect(train(tiny(join(root, 'a')), { resume: true })).rejects.toThrow(/has finished \(completed\); raise --epochs above 2/)
  }, 60_000)

  it('F6: a report that cannot be written is a warning; the run stands and `report` regenerates it', async () => {
    const dir = join(root, 'report-fails')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(dir, { recursive: true })
    // a file where the report folder goes: every report write fails, as on a full disk
    writeFileSync(join(dir, 'report'), 'in the way')
    const reporter = recording()
    const s = await train(tiny(dir, { epochs: 1 }), { reporter })
    expect(s.stopReason).toEqual({ kind: 'completed' })
    expect(s.report).toBeNull()
    expect(reporter.warnings.join('\n')).toMatch(/could not write the report .* regenerate it later with: unet report/)
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([])
    expect(existsSync(join(dir, 'run.json'))).toBe(true)
    const { rmSync } = await import('node:fs')
    rmSync(join(dir, 'report'))
    // a log that cannot be appended to (here a folder in its place) is a warning too, not a failed run
    const logDir = join(root, 'log-is-a-folder')
    mkdirSync(join(logDir, 'log.jsonl'), { recursive: true })
    const logged = await train(tiny(logDir, { epochs: 1 }), { report: false, reporter: consoleReporter({ quiet: true, json: false, logFile: join(logDir, 'log.jsonl') }) })
    expect(logged.stopReason).toEqual({ kind: 'completed' })
    const { regenerateReport } = await import('./commands/report')
    const index = await regenerateReport(dir, 'cpu')
    expect(readFileSync(index, 'utf8')).toContain('Monitored: val_tgs')
    expect(readdirSync(join(dir, 'report')).sort()).toEqual(['index.html', 'learning.png', 'loss.png', 'metrics.png', 'monitor.png', 'threshold.png', 'validation-grid.png'])
  }, 240_000)

  it('F1: stops naming unusable files; with skipBad trains on the rest and lists them in the run', async () => {
    const data = join(root, 'bad-data')
    await synth({ out: data, count: 14, testCount: 0, seed: 3 })
    const masks = readdirSync(join(data, 'train', 'masks')).sort()
    writeFileSync(join(data, 'train', 'masks', masks[0] as string), 'not a png')
    writeFileSync(join(data, 'train', 'images', 'zero-bytes.png'), '')
    await expect(train(tiny(join(root, 'bad-run'), { data }), { report: false })).rejects.toMatchObject({
      code: 'BAD_DATA',
      message: expect.stringMatching(new RegExp(`2 file\\(s\\) in .* cannot be used:[\\s\\S]*${masks[0]}[\\s\\S]*--skip-bad`)),
    })
    expect(existsSync(join(root, 'bad-run', 'checkpoints'))).toBe(false)
    const reporter = recording()
    const s = await train(tiny(join(root, 'bad-run'), { data, skipBad: true, epochs: 1 }), { reporter })
    expect(s.skipped).toBe(2)
    expect(reporter.warnings[0]).toMatch(/--skip-bad: skipped 2 unusable file\(s\)/)
    const listed = JSON.parse(readFileSync(join(root, 'bad-run', 'skipped.json'), 'utf8')) as { file?: string; id?: string }[]
    expect(listed.map((p) => p.file ?? p.id).join(' ')).toContain(masks[0])
    expect(readFileSync(join(root, 'bad-run', 'report', 'index.html'), 'utf8')).toMatch(/Skipped files \(2, --skip-bad\)/)
  }, 240_000)
})
