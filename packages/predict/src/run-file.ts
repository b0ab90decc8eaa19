import { PredictError } from './errors'

/** The run.json format version this package reads. */
export const RUN_FILE_VERSION = 2

/** How an image reaches the model's width × height (see docs/run-format.md). */
export interface RunPrepare {
  /** `resize` stretches; `pad` pads to size (images larger than the model are refused: use letterbox); `letterbox` resizes keeping the aspect ratio, then pads. */
  readonly mode: 'resize' | 'pad' | 'letterbox'
  /** Padding of `pad` and `letterbox`. */
  readonly pad?: 'reflect' | 'constant'
  /** Resampling of `resize` and `letterbox`. */
  readonly interpolation: 'bilinear' | 'bicubic' | 'area'
}

/** `run.json` (version 2): the contract between `unet train` and everything that uses its model. */
export interface RunFile {
  readonly format: 'unet-run'
  readonly version: 2
  /** The best model's model.json, relative to the run folder. */
  readonly model: string
  /** Optional batch-norm-folded copy of the model (same outputs within 1e-5), relative to the run folder. */
  readonly inferenceModel?: string
  /** What the model takes, after preparing. */
  readonly input: { readonly width: number; readonly height: number; readonly channels: number }
  readonly prepare: RunPrepare
  /** Pixels divided by their format's maximum into [0, 1]. */
  readonly scale: 'unit'
  /** `linear` = the model outputs logits. */
  readonly output: { readonly classes: number; readonly activation: 'sigmoid' | 'linear' }
  /** The probability threshold chosen on validation. */
  readonly threshold: number
  /** How the dataset's submissions number pixels and name images. */
  readonly rle: { readonly order: 'column' | 'row'; readonly idColumn: string; readonly idSuffix: string }
  readonly layout: 'tgs' | 'carvana' | 'folders' | 'synthetic'
  /** The score that chose the best model. */
  readonly monitor: { readonly name: string; readonly mode: 'min' | 'max'; readonly best: number | null; readonly epoch: number }
  readonly encoder: string
  /**
   * Optional: the model has an image-level "has mask" classifier (deep supervision). Predict zeroes the masks of
   * images whose classifier probability is below `threshold` unless told otherwise.
   */
  readonly emptyClassifier?: { readonly output: string; readonly threshold: number }
  /** Optional: model.json paths (relative to the run folder) of the cosine-cycle snapshots, first cycle first. */
  readonly snapshots?: readonly string[]
}

type Json = Record<string, unknown>

class Checker {
  constructor(private readonly source: string) {}

  fail(field: string, want: string, got: unknown): never {
    const shown = got === undefined ? 'nothing' : JSON.stringify(got)
    throw new PredictError(
      'RUN_INVALID',
      `${this.source}: "${field}" must be ${want}, found ${shown && shown.length > 60 ? `${shown.slice(0, 57)}...` : shown}; the run folder is damaged or not written by \`unet train\``,
      { file: this.source },
    )
  }

  object(parent: Json, key: string, path = key): Json {
    const v = parent[key]
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'an object', v)
    return v as Json
  }

  oneOf<T extends string>(parent: Json, key: string, path: string, values: readonly T[]): T {
    const v = parent[key]
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) this.fail(path, `one of ${values.map((x) => `"${x}"`).join(', ')}`, v)
    return v as T
  }

  string(parent: Json, key: string, path: string, allowEmpty = false): string {
    const v = parent[key]
    if (typeof v !== 'string' || (!allowEmpty && v === '')) this.fail(path, allowEmpty ? 'a string' : 'a non-empty string', v)
    return v as string
  }

  int(parent: Json, key: string, path: string, min: number): number {
    const v = parent[key]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(path, `an integer ≥ ${min}`, v)
    return v as number
  }

  number(parent: Json, key: string, path: string, check: (n: number) => boolean, want: string): number {
    const v = parent[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) this.fail(path, want, v)
    return v as number
  }

  modelPath(parent: Json, key: string, path = key): string {
    const v = this.string(parent, key, path)
    // the web page fetches this relative to the run's URL: keep it inside the run folder
    if (v.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(v) || v.includes('://') || v.split(/[\\/]/).includes('..') || !v.endsWith('.json')) {
      this.fail(path, 'a model.json path inside the run folder (relative, no "..")', v)
    }
    return v
  }
}

/**
 * Parses and checks a run folder's `run.json` (version 2, docs/run-format.md). Every field is validated;
 * an unknown version or a damaged field is refused with a one-line error naming the file. Browser-safe:
 * the web page passes the text it fetched.
 *
 * @param json - the file's text, or its already parsed value
 * @param source - where it came from (a path or URL), named in errors
 * @returns the run file
 * @throws {PredictError} `RUN_INVALID` or `RUN_VERSION`
 * @example
 * ```ts
 * const run = parseRunFile(await (await fetch('run/run.json')).text(), 'run/run.json')
 * run.input // { width: 128, height: 128, channels: 1 }
 * ```
 */
export function parseRunFile(json: string | unknown, source: string): RunFile {
  let value: unknown = json
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json)
    } catch (cause) {
      throw new PredictError('RUN_INVALID', `${source} is not valid JSON (${(cause as Error).message}); the run folder is damaged: train again or restore run.json`, { file: source, cause })
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || (value as Json).format !== 'unet-run') {
    throw new PredictError('RUN_INVALID', `${source} is not a unet run file (no "format": "unet-run")`, { file: source })
  }
  const root = value as Json
  if (root.version !== RUN_FILE_VERSION) {
    const v = root.version
    const newer = typeof v === 'number' && v > RUN_FILE_VERSION
    throw new PredictError(
      'RUN_VERSION',
      newer
        ? `${source} has run format version ${v}, newer than the ${RUN_FILE_VERSION} this @unet/predict reads; upgrade @unet/predict (the unet command)`
        : `${source} has run format version ${JSON.stringify(v)}; this @unet/predict reads version ${RUN_FILE_VERSION}: train the run again with the current \`unet train\``,
      { file: source },
    )
  }
  const c = new Checker(source)
  const model = c.modelPath(root, 'model')
  const inferenceModel = root.inferenceModel === undefined ? undefined : c.modelPath(root, 'inferenceModel')
  const input = c.object(root, 'input')
  const prepare = c.object(root, 'prepare')
  const mode = c.oneOf(prepare, 'mode', 'prepare.mode', ['resize', 'pad', 'letterbox'] as const)
  const pad = prepare.pad === undefined ? undefined : c.oneOf(prepare, 'pad', 'prepare.pad', ['reflect', 'constant'] as const)
  if (pad === undefined && mode !== 'resize') c.fail('prepare.pad', `"reflect" or "constant" with mode "${mode}"`, undefined)
  const output = c.object(root, 'output')
  const rle = c.object(root, 'rle')
  const monitor = c.object(root, 'monitor')
  const best = monitor.best === null ? null : c.number(monitor, 'best', 'monitor.best', () => true, 'a number or null')
  const run: RunFile = {
    format: 'unet-run',
    version: 2,
    model,
    ...(inferenceModel === undefined ? {} : { inferenceModel }),
    input: { width: c.int(input, 'width', 'input.width', 1), height: c.int(input, 'height', 'input.height', 1), channels: c.int(input, 'channels', 'input.channels', 1) },
    prepare: { mode, ...(pad === undefined ? {} : { pad }), interpolation: c.oneOf(prepare, 'interpolation', 'prepare.interpolation', ['bilinear', 'bicubic', 'area'] as const) },
    scale: c.oneOf(root, 'scale', 'scale', ['unit'] as const),
    output: { classes: c.int(output, 'classes', 'output.classes', 1), activation: c.oneOf(output, 'activation', 'output.activation', ['sigmoid', 'linear'] as const) },
    threshold: c.number(root, 'threshold', 'threshold', (n) => n >= 0 && n <= 1, 'a probability between 0 and 1'),
    rle: { order: c.oneOf(rle, 'order', 'rle.order', ['column', 'row'] as const), idColumn: c.string(rle, 'idColumn', 'rle.idColumn'), idSuffix: c.string(rle, 'idSuffix', 'rle.idSuffix', true) },
    layout: c.oneOf(root, 'layout', 'layout', ['tgs', 'carvana', 'folders', 'synthetic'] as const),
    monitor: { name: c.string(monitor, 'name', 'monitor.name'), mode: c.oneOf(monitor, 'mode', 'monitor.mode', ['min', 'max'] as const), best, epoch: c.int(monitor, 'epoch', 'monitor.epoch', 0) },
    encoder: c.string(root, 'encoder', 'encoder'),
  }
  if (root.emptyClassifier !== undefined) {
    const e = c.object(root, 'emptyClassifier')
    Object.assign(run, {
      emptyClassifier: {
        output: c.string(e, 'output', 'emptyClassifier.output'),
        threshold: c.number(e, 'threshold', 'emptyClassifier.threshold', (n) => n >= 0 && n <= 1, 'a probability between 0 and 1'),
      },
    })
  }
  if (root.snapshots !== undefined) {
    if (!Array.isArray(root.snapshots)) c.fail('snapshots', 'a list of model.json paths', root.snapshots)
    const list = root.snapshots as unknown[]
    Object.assign(run, { snapshots: list.map((_, i) => c.modelPath(list as unknown as Json, String(i), `snapshots[${i}]`)) })
  }
  return run
}
