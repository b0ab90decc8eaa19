// run.json (docs/run-format.md) as the page and the server read it. Pure: no DOM, no Node built-ins.

/** The run.json versions this reader knows. */
export const RUN_VERSION = 2

/** How images are brought to the model's size (run.json `prepare`). */
export interface PrepareSettings {
  mode: 'resize' | 'pad' | 'letterbox'
  pad: 'reflect' | 'constant'
  interpolation: 'bilinear' | 'bicubic' | 'area'
}

/** What the page needs of a run.json, checked and with defaults filled in. */
export interface RunSpec {
  /** Path of the model to load, relative to the run folder: `inferenceModel` when present, else `model`. */
  modelPath: string
  /** Both model paths the run names (the server serves exactly these and their weight files). */
  modelPaths: string[]
  input: { width: number; height: number; channels: 1 | 3 }
  prepare: PrepareSettings
  output: { classes: number; activation: 'sigmoid' | 'linear' }
  threshold: number
  rle: { order: 'column-major' | 'row-major'; idColumn: string; idSuffix: string }
  layout: string
  encoder: string
  monitor: { name: string; best: number; epoch: number } | null
}

/** A run.json that cannot be used; the message names the file and the field. */
export class RunFormatError extends Error {
  override readonly name = 'RunFormatError'
  readonly code = 'BAD_RUN' as const
}

type Json = Record<string, unknown>

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function pick<T extends string>(value: unknown, choices: readonly T[], fallback: T, field: string, where: string): T {
  if (value === undefined) return fallback
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T
  throw new RunFormatError(`${where}: ${field} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`)
}

function relativeModelPath(value: unknown, field: string, where: string): string {
  if (typeof value !== 'string' || value === '') throw new RunFormatError(`${where}: ${field} must name a model.json inside the run folder, got ${JSON.stringify(value)}`)
  const parts = value.split('/')
  if (value.startsWith('/') || value.includes('\\') || parts.some((p) => p === '..' || p === '.' || p === '') || !value.endsWith('.json')) {
    throw new RunFormatError(`${where}: ${field} must be a path inside the run folder like best/model.json, got ${JSON.stringify(value)}`)
  }
  return value
}

/**
 * Reads and checks a run.json.
 *
 * @param text - the file's text
 * @param where - the file's name or URL, for messages
 * @returns the settings the page needs
 * @throws {RunFormatError} when it is not a unet run, is newer than this reader, or a field is wrong
 * @example
 * ```ts
 * const run = parseRun(await (await fetch('run/run.json')).text(), 'run/run.json')
 * ```
 */
export function parseRun(text: string, where = 'run.json'): RunSpec {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new RunFormatError(`${where} is not JSON (${(cause as Error).message}); point at the run.json that unet train wrote`, { cause })
  }
  if (!isObject(json) || json.format !== 'unet-run') {
    throw new RunFormatError(`${where} is not a unet run (no "format": "unet-run"); point at the run.json that unet train wrote`)
  }
  const version = json.version
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) throw new RunFormatError(`${where}: version must be a whole number, got ${JSON.stringify(version)}`)
  if (version > RUN_VERSION) throw new RunFormatError(`${where} is run.json version ${version}, newer than this page knows (${RUN_VERSION}); update the toolkit`)
  const model = relativeModelPath(json.model, 'model', where)
  const inference = json.inferenceModel === undefined ? undefined : relativeModelPath(json.inferenceModel, 'inferenceModel', where)
  const input = isObject(json.input) ? json.input : {}
  const { width, height, channels } = input
  if (!Number.isInteger(width) || !Number.isInteger(height) || (width as number) < 1 || (height as number) < 1) {
    throw new RunFormatError(`${where}: input.width and input.height must be positive whole numbers, got ${JSON.stringify(input)}`)
  }
  if (channels !== 1 && channels !== 3) throw new RunFormatError(`${where}: input.channels must be 1 or 3, got ${JSON.stringify(channels)}`)
  const prepare = isObject(json.prepare) ? json.prepare : {}
  const output = isObject(json.output) ? json.output : {}
  const classes = output.classes ?? 1
  if (classes !== 1) throw new RunFormatError(`${where}: output.classes is ${JSON.stringify(classes)}; the page shows binary masks (classes 1) only`)
  if (json.scale !== undefined && json.scale !== 'unit') throw new RunFormatError(`${where}: scale must be "unit", got ${JSON.stringify(json.scale)}`)
  const threshold = json.threshold ?? 0.5
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) throw new RunFormatError(`${where}: threshold must be a probability between 0 and 1, got ${JSON.stringify(threshold)}`)
  const rle = isObject(json.rle) ? json.rle : {}
  const order = pick(rle.order, ['column', 'row'] as const, 'column', 'rle.order', where)
  const monitor = isObject(json.monitor) && typeof json.monitor.name === 'string' && typeof json.monitor.best === 'number'
    ? { name: json.monitor.name, best: json.monitor.best, epoch: typeof json.monitor.epoch === 'number' ? json.monitor.epoch : NaN }
    : null
  return {
    modelPath: inference ?? model,
    modelPaths: inference === undefined ? [model] : [model, inference],
    input: { width: width as number, height: height as number, channels },
    prepare: {
      mode: pick(prepare.mode, ['resize', 'pad', 'letterbox'] as const, 'resize', 'prepare.mode', where),
      pad: pick(prepare.pad, ['reflect', 'constant'] as const, 'reflect', 'prepare.pad', where),
      interpolation: pick(prepare.interpolation, ['bilinear', 'bicubic', 'area'] as const, 'bilinear', 'prepare.interpolation', where),
    },
    output: { classes: 1, activation: pick(output.activation, ['sigmoid', 'linear'] as const, 'sigmoid', 'output.activation', where) },
    threshold,
    rle: {
      order: order === 'row' ? 'row-major' : 'column-major',
      idColumn: typeof rle.idColumn === 'string' ? rle.idColumn : 'id',
      idSuffix: typeof rle.idSuffix === 'string' ? rle.idSuffix : '',
    },
    layout: typeof json.layout === 'string' ? json.layout : 'folders',
    encoder: typeof json.encoder === 'string' ? json.encoder : 'plain',
    monitor,
  }
}
