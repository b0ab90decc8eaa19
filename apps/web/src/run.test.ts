import { describe, expect, it } from 'vitest'
import { parseRun, RunFormatError } from './run'

const runJson = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    format: 'unet-run', version: 2, model: 'best/model.json', input: { width: 128, height: 128, channels: 1 },
    prepare: { mode: 'pad', pad: 'reflect', interpolation: 'bilinear' }, scale: 'unit', output: { classes: 1, activation: 'linear' },
    threshold: 0.45, rle: { order: 'column', idColumn: 'id', idSuffix: '' }, layout: 'tgs',
    monitor: { name: 'val_tgs_score', mode: 'max', best: 0.8, epoch: 3 }, encoder: 'plain', ...extra,
  })

describe('parseRun', () => {
  it('starts the empty threshold at run.json\'s for a run with a "has mask" classifier, as unet predict does', () => {
    expect(parseRun(runJson({ emptyClassifier: { output: 'has_mask', threshold: 0.6 } })).emptyThreshold).toBe(0.6)
  })

  it('has no empty threshold for a run without the classifier', () => {
    expect(parseRun(runJson()).emptyThreshold).toBeNull()
  })

  it('refuses a damaged emptyClassifier, naming the field', () => {
    expect(() => parseRun(runJson({ emptyClassifier: { output: 'has_mask', threshold: 2 } }), 'runs/a/run.json')).toThrow(RunFormatError)
    expect(() => parseRun(runJson({ emptyClassifier: { output: 'has_mask', threshold: 2 } }), 'runs/a/run.json')).toThrow(/emptyClassifier\.threshold/)
  })
})
