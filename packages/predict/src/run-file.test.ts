import { describe, expect, it } from 'vitest'
import { PredictError } from './errors'
import { parseRunFile, type RunFile } from './run-file'

const valid: RunFile = {
  format: 'unet-run',
  version: 2,
  model: 'best/model.json',
  inferenceModel: 'inference/model.json',
  input: { width: 384, height: 192, channels: 3 },
  prepare: { mode: 'letterbox', pad: 'constant', interpolation: 'bilinear' },
  scale: 'unit',
  output: { classes: 1, activation: 'linear' },
  threshold: 0.45,
  rle: { order: 'row', idColumn: 'img', idSuffix: '.jpg' },
  layout: 'carvana',
  monitor: { name: 'val_dice', mode: 'max', best: 0.91, epoch: 7 },
  encoder: 'seresnet34',
}

/** A copy of the valid file with one field (dotted path) set, or removed when `value` is undefined. */
function withField(path: string, value: unknown): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(valid)) as Record<string, unknown>
  const keys = path.split('.')
  let at = copy
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>
  const last = keys[keys.length - 1] as string
  if (value === undefined) delete at[last]
  else at[last] = value
  return copy
}

describe('parseRunFile', () => {
  it('reads a valid file, from text or a parsed value', () => {
    expect(parseRunFile(JSON.stringify(valid), 'r/run.json')).toEqual(valid)
    const { inferenceModel: _, ...plain } = valid
    expect(parseRunFile({ ...plain, prepare: { mode: 'resize', interpolation: 'area' } }, 'r/run.json')).toEqual({ ...plain, prepare: { mode: 'resize', interpolation: 'area' } })
  })

  it('drops keys it does not know', () => {
    expect(parseRunFile({ ...valid, extra: 1 }, 'r/run.json')).toEqual(valid)
  })

  it('refuses newer and older versions in one line naming the file', () => {
    const newer = () => parseRunFile({ ...valid, version: 3 }, 'runs/a/run.json')
    expect(newer).toThrow(PredictError)
    expect(newer).toThrow(/^runs\/a\/run\.json has run format version 3, newer than the 2 this @unet\/predict reads; upgrade/)
    expect(() => parseRunFile({ ...valid, version: 1 }, 'runs/a/run.json')).toThrow(expect.objectContaining({ code: 'RUN_VERSION', file: 'runs/a/run.json' }))
    try {
      newer()
    } catch (error) {
      expect((error as Error).message).not.toContain('\n')
    }
  })

  it('refuses text that is not JSON or not a run file', () => {
    expect(() => parseRunFile('{"format":', 'x/run.json')).toThrow(expect.objectContaining({ code: 'RUN_INVALID', message: expect.stringMatching(/^x\/run\.json is not valid JSON/) }))
    expect(() => parseRunFile('[]', 'x/run.json')).toThrow('x/run.json is not a unet run file')
  })

  const broken: [string, unknown, RegExp][] = [
    ['model', undefined, /"model" must be a non-empty string, found nothing/],
    ['model', '../other/model.json', /"model" must be a model.json path inside the run folder/],
    ['model', '/etc/model.json', /inside the run folder/],
    ['inferenceModel', 'http://x/model.json', /"inferenceModel" must be/],
    ['input.width', 0, /"input.width" must be an integer ≥ 1, found 0/],
    ['input.channels', 1.5, /"input.channels" must be an integer/],
    ['input', 'big', /"input" must be an object/],
    ['prepare.mode', 'stretch', /"prepare.mode" must be one of "resize", "pad", "letterbox", found "stretch"/],
    ['prepare.pad', undefined, /"prepare.pad" must be "reflect" or "constant" with mode "letterbox"/],
    ['prepare.interpolation', 'nearest', /"prepare.interpolation" must be one of/],
    ['scale', 'imagenet', /"scale" must be one of "unit"/],
    ['output.classes', 0, /"output.classes"/],
    ['output.activation', 'softmax', /"output.activation"/],
    ['threshold', 1.5, /"threshold" must be a probability between 0 and 1, found 1.5/],
    ['threshold', null, /"threshold"/],
    ['rle.order', 'column-major', /"rle.order" must be one of "column", "row"/],
    ['rle.idSuffix', 3, /"rle.idSuffix" must be a string/],
    ['layout', 'coco', /"layout"/],
    ['monitor.mode', 'up', /"monitor.mode"/],
    ['monitor.epoch', -1, /"monitor.epoch"/],
    ['encoder', '', /"encoder" must be a non-empty string, found ""/],
  ]
  for (const [field, value, message] of broken) {
    it(`refuses ${field} = ${JSON.stringify(value)}`, () => {
      expect(() => parseRunFile(withField(field, value), 'runs/a/run.json')).toThrow(expect.objectContaining({ code: 'RUN_INVALID', file: 'runs/a/run.json', message: expect.stringMatching(message) }))
    })
  }

  it('accepts a monitor without a best score yet', () => {
    expect(parseRunFile(withField('monitor.best', null), 'r').monitor.best).toBeNull()
  })
})
