import { readFile } from 'node:fs/promises'
import { createAugmentation, LAYOUTS } from '@unet/data'
import { parse as parseYaml } from 'yaml'
import { MONITOR_NAMES, OPTIMIZER_NAMES, SCHEDULE_NAMES, type MonitorName, type OptimizerName, type ScheduleName } from '@unet/train'
import { TrainerError } from './errors'
import { DECODER_ATTENTIONS, type DecoderAttention } from '@unet/layers'
import { lossNames } from '@unet/losses'
import { ENCODER_CHOICES, encoderDepth, type EncoderChoice } from './model'
import { RECIPE_NAMES } from './recipes'

/** One phase of `--loss-schedule`: the loss from `fromEpoch` (0-based) on. */
export interface LossPhaseConfig {
  loss: string
  fromEpoch: number
}

/** Backends `unet train` can run on (see @unet/runtime's `initBackend`). */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu'

/** Everything that decides what a training run does; written to RUN_DIR/config.json. */
export interface TrainConfig {
  /** Dataset folder or .zip (TGS, Carvana or folder pairs, detected); `null` trains on the built-in synthetic data. */
  data: string | null
  /** Read `data` as this layout instead of detecting it. */
  layout: 'tgs' | 'carvana' | 'folders' | null
  /** Folder pairs: the images folder (with `masks`; `data` is then optional: their common parent). */
  images: string | null
  /** Folder pairs: the masks folder. */
  masks: string | null
  /** Folder pairs: a mask's file stem is the image's plus this (e.g. `_mask`). */
  maskSuffix: string
  /** Foreground where a mask is above this (8-bit units), for JPEG masks (whale flukes: 108); null: masks must be binary. */
  maskThreshold: number | null
  /** Keep groups on one side of the split: `carvana` (the car id), or a regular expression whose first group (or match) of the id names the group. */
  groupBy: string | null
  /**
   * Photos streamed from disk (Carvana, folder pairs): a folder where each train image is kept once resized to the
   * model size (8-bit), so later epochs read that instead of decoding the photo; null: decode every epoch.
   */
  cacheDir: string | null
  /** Run folder: checkpoints, config, history, report. */
  out: string
  /** The U-Net's encoder (see `ENCODER_CHOICES`): the plain U-Net, VGG-16, a ResNet or an SE-ResNet. */
  encoder: EncoderChoice
  /** Former name of the choice: `'vgg16'` is `encoder: 'vgg16'` (runs written before `encoder` existed). */
  model: 'unet' | 'vgg16'
  /** Pretrained encoder weights: VGG-16 `.h5` or tfjs `model.json` folder; ResNets `.safetensors` or classification_models `.h5`; `null` = random. */
  encoderWeights: string | null
  /** Encoder layers up to this point (a stage such as `layer2` / `block3`, its number, a layer name, or `none`) do not train. */
  freezeUpTo: string | null
  /** Number of down-sampling stages. */
  depth: number
  /** Filters of the first stage (doubled at each stage). */
  filters: number
  /** Width of the images the model sees (and their height unless `imageHeight` is set). */
  imageSize: number
  /** Height of the images the model sees; null = `imageSize` (square). */
  imageHeight: number | null
  /** How images reach the model size: stretch (`resize`), reflect-pad (`pad`), or resize keeping the aspect ratio then pad (`letterbox`). */
  resize: 'resize' | 'pad' | 'letterbox'
  /** Input channels of the model: null = those of the data (grey 1, RGB 3), resolved when training starts. */
  channels: number | null
  /** Epochs to train for. */
  epochs: number
  /** Images per step. */
  batchSize: number
  /** Learning rate at the start. */
  lr: number
  /** Optimizer: `adam`, `sgd` or `rmsprop` (@unet/train's OPTIMIZERS). */
  optimizer: OptimizerName
  /** Momentum of sgd and rmsprop. */
  momentum: number
  /** Decoupled weight decay: kernels shrink by lr × weightDecay after each step. */
  weightDecay: number
  /** What drives the best checkpoint, early stopping and LR reduction; null = val_tgs on TGS data, val_dice elsewhere. */
  monitor: MonitorName | null
  /** Learning-rate schedule (@unet/train's LR_SCHEDULES). */
  lrSchedule: ScheduleName
  /** `step` schedule: multiply the rate by lrFactor every this many epochs. */
  lrStepEpochs: number
  /** `cosine` schedule: epochs of the first cycle. */
  lrCycleEpochs: number
  /** `cosine` schedule: each cycle is this many times longer than the one before. */
  lrCycleMult: number
  /** Train on the usable files when some are corrupt, missing their pair or of the wrong size (listed in the run); default: stop. */
  skipBad: boolean
  /** Loss name from @unet/losses. */
  loss: string
  /** Losses by epoch (`--loss-schedule bce_dice@0,lovasz_hinge@6`), or null for `loss` throughout. */
  lossSchedule: LossPhaseConfig[] | null
  /** Attention blocks after each decoder stage (@unet/layers' `DECODER_ATTENTIONS`). */
  decoderAttention: DecoderAttention
  /** Concatenate all decoder stages, up-sampled, before the output (hypercolumn). */
  hypercolumn: boolean
  /** Auxiliary mask heads and a "has mask" classifier, trained with @unet/losses' deepSupervisionLoss. */
  deepSupervision: boolean
  /** The preset the run started from (`--recipe`), recorded; its settings are already in the other keys. */
  recipe: string | null
  /** A folder of pseudo-labelled images (`images/` + `masks/`) added to the train split (`unet pseudo-label`). */
  pseudoLabels: string | null
  /** Share of train images held out for validation (ignored with `folds`). */
  valSplit: number
  /** K of a stratified K-fold split, or `null` for a single split. */
  folds: number | null
  /** Which fold is validation (0-based) when `folds` is set. */
  fold: number
  /**
   * Augmentations of @unet/data's registry, in order: `name` or `name:param=value:p=0.3` strings (or, in a config
   * file, `{ name, ...params }` objects); the older short names `flip`, `shift`, `brightness`, `contrast`, `gamma`,
   * `blur`, `noise` still work.
   */
  augment: (string | Record<string, unknown>)[]
  /** Dropout rate in the U-Net. */
  dropout: number
  /**
   * Batch-norm momentum of the U-Net, or `null` for no batch norm. 0.9 rather than Keras' 0.99: a short run
   * takes only a few hundred steps, and the moving statistics used at validation must catch up in that time.
   */
  batchNormMomentum: number | null
  /** Seed of weights, split, data order and augmentation. */
  seed: number
  /** Synthetic data only: number of train images generated. */
  synthTrain: number
  /** Synthetic data only: number of test images generated. */
  synthTest: number
  /** Early stopping: epochs without a better validation score before stopping; 0 turns it off. */
  patience: number
  /** Reduce-LR-on-plateau: epochs without improvement before the rate is cut; 0 turns it off. */
  lrPatience: number
  /** Reduce-LR-on-plateau: factor the rate is multiplied by. */
  lrFactor: number
  /** Reduce-LR-on-plateau: the rate never goes below this. */
  minLr: number
  /** Stop (and save) after this many seconds of training; 0 = no limit. */
  timeLimit: number
  /** Backend to train on. */
  backend: BackendChoice
  /** Threads for the wasm backend; 0 = its default. */
  threads: number
  /** Validation images shown in the report grid. */
  reportImages: number
}

/**
 * The defaults: small enough that `unet train` finishes in a few minutes on 2 CPU cores (wasm) and still
 * learns visibly on the synthetic data — 400 images at 128×128 (the TGS convention: 101 → 128), a depth-4
 * U-Net with 8 first-stage filters, 8 epochs. For real data raise `filters` (16, the seeds' network) and `epochs`.
 */
export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  data: null,
  layout: null,
  images: null,
  masks: null,
  maskSuffix: '',
  maskThreshold: null,
  groupBy: null,
  cacheDir: null,
  out: 'runs/latest',
  encoder: 'plain',
  model: 'unet',
  encoderWeights: null,
  freezeUpTo: null,
  depth: 4,
  filters: 8,
  imageSize: 128,
  imageHeight: null,
  resize: 'resize',
  channels: null,
  epochs: 8,
  batchSize: 16,
  lr: 0.003,
  optimizer: 'adam',
  momentum: 0,
  weightDecay: 0,
  monitor: null,
  lrSchedule: 'plateau',
  lrStepEpochs: 10,
  lrCycleEpochs: 10,
  lrCycleMult: 1,
  skipBad: false,
  loss: 'bce_dice',
  lossSchedule: null,
  decoderAttention: 'none',
  hypercolumn: false,
  deepSupervision: false,
  recipe: null,
  pseudoLabels: null,
  valSplit: 0.2,
  folds: null,
  fold: 0,
  augment: ['horizontal_flip'],
  dropout: 0,
  batchNormMomentum: 0.9,
  seed: 42,
  synthTrain: 400,
  synthTest: 100,
  patience: 5,
  lrPatience: 2,
  lrFactor: 0.5,
  minLr: 1e-5,
  timeLimit: 0,
  backend: 'auto',
  threads: 0,
  reportImages: 12,
} satisfies TrainConfig)

/** The trainer's earlier augmentation names, and the @unet/data registry entries they stand for. */
export const AUGMENTATION_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  flip: 'horizontal_flip',
  hflip: 'horizontal_flip',
  vflip: 'vertical_flip',
  shift: 'shift_scale_rotate',
  brightness: 'random_brightness',
  contrast: 'random_contrast',
  gamma: 'random_gamma',
})

/**
 * Parses one `--augment` entry, `name[:param=value]*`, into a @unet/data augmentation config (`{ name, ...params }`);
 * numbers become numbers, `a..b` becomes `[a, b]`. Objects (from a config file) pass through.
 *
 * @param entry - e.g. `rotate:limit=5:p=0.3`
 * @returns the config
 * @example
 * ```ts
 * parseAugmentation('rotate:limit=5:p=0.3') // { name: 'rotate', limit: 5, p: 0.3 }
 * ```
 */
export function parseAugmentation(entry: string | Record<string, unknown>): Record<string, unknown> {
  if (typeof entry !== 'string') return entry
  const [name = '', ...params] = entry.split(':').map((s) => s.trim())
  const out: Record<string, unknown> = { name: AUGMENTATION_ALIASES[name] ?? name }
  for (const p of params) {
    const eq = p.indexOf('=')
    const key = eq < 0 ? p : p.slice(0, eq)
    const raw = eq < 0 ? '' : p.slice(eq + 1)
    const range = /^(-?[\d.]+)\.\.(-?[\d.]+)$/.exec(raw)
    out[key] = range ? [Number(range[1]), Number(range[2])] : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw
  }
  return out
}

const KEYS = Object.keys(DEFAULT_TRAIN_CONFIG) as (keyof TrainConfig)[]

/**
 * Reads a `--config` JSON file: an object with any of {@link TrainConfig}'s keys.
 *
 * @param path - the JSON file
 * @returns the partial config it holds
 * @example
 * ```ts
 * const fromFile = await readConfigFile('train.json')
 * ```
 */
export async function readConfigFile(path: string): Promise<Partial<TrainConfig>> {
  const yaml = /\.ya?ml$/i.test(path)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new TrainerError('BAD_CONFIG', `cannot read config file ${path}: ${(cause as Error).message}; check the path given to --config`, { cause })
  }
  let parsed: unknown
  try {
    parsed = yaml ? parseYaml(text) : JSON.parse(text)
  } catch (cause) {
    const where = (cause as { linePos?: { line: number; col: number }[] }).linePos?.[0]
    throw new TrainerError('BAD_CONFIG', `config file ${path}${where ? ` line ${where.line}, column ${where.col}` : ''} is not valid ${yaml ? 'YAML' : 'JSON'} (${(cause as Error).message.split('\n')[0]}); fix the file or drop --config`, { cause })
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TrainerError('BAD_CONFIG', `config file ${path} must hold ${yaml ? 'a YAML mapping like "epochs: 10"' : 'a JSON object like {"epochs": 10}'}`)
  }
  if (typeof (parsed as Record<string, unknown>).imageSize === 'string') {
    Object.assign(parsed as object, parseImageSize((parsed as Record<string, unknown>).imageSize as string))
  }
  const unknown = Object.keys(parsed).filter((k) => !KEYS.includes(k as keyof TrainConfig))
  if (unknown.length > 0) {
    throw new TrainerError('BAD_CONFIG', `config file ${path} has unknown key(s) ${unknown.join(', ')}; valid keys: ${KEYS.join(', ')}`)
  }
  if (typeof (parsed as Record<string, unknown>).augment === 'string') {
    ;(parsed as Record<string, unknown>).augment = splitAugmentList((parsed as Record<string, unknown>).augment as string)
  }
  return parsed as Partial<TrainConfig>
}

/**
 * Layers defaults, then the config file, then flags (flags win), and checks
 * every value.
 *
 * @param layers - partial configs, lowest priority first; `undefined` values are skipped
 * @returns the complete, checked config
 * @example
 * ```ts
 * const config = resolveTrainConfig({ epochs: 2 }, { filters: 4 })
 * ```
 */
export function resolveTrainConfig(...layers: Partial<TrainConfig>[]): TrainConfig {
  const config = { ...DEFAULT_TRAIN_CONFIG, augment: [...DEFAULT_TRAIN_CONFIG.augment] } as TrainConfig
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v
    }
  }
  if (typeof config.lossSchedule === 'string') config.lossSchedule = parseLossSchedule(config.lossSchedule)
  // `--model vgg16` (and runs saved before `encoder` existed) mean `--encoder vgg16`
  if (config.model === 'vgg16' && config.encoder === 'plain') config.encoder = 'vgg16'
  if (config.encoder === 'vgg16') config.model = 'vgg16'
  validateTrainConfig(config)
  return config
}

/**
 * Parses `--image-size`: one number (square) or `WIDTHxHEIGHT`.
 *
 * @param value - e.g. `384x192` or `128`
 * @returns `imageSize` (the width) and `imageHeight`
 * @example
 * ```ts
 * parseImageSize('384x192') // { imageSize: 384, imageHeight: 192 }
 * ```
 */
export function parseImageSize(value: string): { imageSize: number; imageHeight: number | null } {
  const m = /^\s*(\d+)\s*(?:[x×]\s*(\d+))?\s*$/i.exec(value)
  if (!m) throw new TrainerError('BAD_CONFIG', `--image-size must be a number or WIDTHxHEIGHT (e.g. 128 or 384x192), got ${JSON.stringify(value)}`)
  const w = Number(m[1])
  const h = m[2] === undefined ? null : Number(m[2])
  return { imageSize: w, imageHeight: h === null || h === w ? null : h }
}

/**
 * Parses `--loss-schedule`: comma-separated `loss@epoch` phases (epochs 0-based, increasing), loss names from
 * @unet/losses' registry.
 *
 * @param value - e.g. `bce_dice@0,lovasz_hinge@6`
 * @returns the phases
 * @throws {TrainerError} `BAD_CONFIG`, one line naming the bad phase and listing the valid names
 * @example
 * ```ts
 * parseLossSchedule('bce_dice@0,lovasz_hinge@6') // [{ loss: 'bce_dice', fromEpoch: 0 }, { loss: 'lovasz_hinge', fromEpoch: 6 }]
 * ```
 */
export function parseLossSchedule(value: string): LossPhaseConfig[] {
  const how = `give loss@epoch phases such as bce_dice@0,lovasz_hinge@6 (loss names: ${lossNames.join(', ')})`
  const phases = value.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const m = /^([a-z_]+)@(\d+)$/.exec(part)
    if (!m) throw new TrainerError('BAD_CONFIG', `--loss-schedule: ${JSON.stringify(part)} is not loss@epoch; ${how}`)
    if (!(lossNames as readonly string[]).includes(m[1] as string)) throw new TrainerError('BAD_CONFIG', `--loss-schedule: ${JSON.stringify(m[1])} is not a known loss; ${how}`)
    return { loss: m[1] as string, fromEpoch: Number(m[2]) }
  })
  if (phases.length === 0) throw new TrainerError('BAD_CONFIG', `--loss-schedule is empty; ${how}`)
  phases.forEach((p, i) => {
    if (i > 0 && p.fromEpoch <= (phases[i - 1] as LossPhaseConfig).fromEpoch) throw new TrainerError('BAD_CONFIG', `--loss-schedule: epochs must increase (${p.loss}@${p.fromEpoch} after ${phases[i - 1]!.loss}@${phases[i - 1]!.fromEpoch}); ${how}`)
  })
  return phases
}

/** Splits an `--augment` list (`a,b:p=0.3`), `none` or empty for none. */
export function splitAugmentList(value: string): string[] {
  if (value.trim() === 'none' || value.trim() === '') return []
  return value.split(',').map((s) => s.trim()).filter(Boolean)
}

/** The flag of a config key: `batchSize` → `--batch-size`. */
export function flagOf(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
}

let problems: string[] | null = null

function fail(key: string, what: string, got: unknown): void {
  const line = `${flagOf(key)} must be ${what}, got ${JSON.stringify(got)}`
  if (problems) problems.push(line)
  else throw new TrainerError('BAD_CONFIG', line)
}

function positiveInt(c: Record<string, unknown>, key: string, min = 1): void {
  const v = c[key]
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(key, min === 0 ? 'an integer ≥ 0' : `an integer ≥ ${min}`, v)
}

function oneOf(c: Record<string, unknown>, key: string, values: readonly string[]): void {
  if (!values.includes(c[key] as string)) fail(key, `one of ${values.join(', ')}`, c[key])
}

/**
 * Throws a {@link TrainerError} naming the first bad value of `config`.
 *
 * @param config - the config to check
 * @returns nothing; throws when a value is out of range
 * @example
 * ```ts
 * validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, epochs: 3 })
 * ```
 */
export function validateTrainConfig(config: TrainConfig): void {
  problems = []
  try {
    checkAll(config)
  } finally {
    const found = problems
    problems = null
    if (found.length > 0) throw new TrainerError('BAD_CONFIG', found.join('\n'), { problems: found })
  }
}

function checkAll(config: TrainConfig): void {
  const c = config as unknown as Record<string, unknown>
  if (config.data !== null && typeof config.data !== 'string') fail('data', 'a folder or .zip path', config.data)
  if (config.layout !== null) oneOf(c, 'layout', LAYOUTS)
  if ((config.images === null) !== (config.masks === null)) {
    const missing = config.images === null ? 'images' : 'masks'
    fail(missing, `given with --${missing === 'images' ? 'masks' : 'images'} (folder pairs need both folders)`, null)
  }
  if (typeof config.maskSuffix !== 'string') fail('maskSuffix', 'a string such as _mask', config.maskSuffix)
  if (config.maskThreshold !== null && !(typeof config.maskThreshold === 'number' && config.maskThreshold >= 0 && config.maskThreshold < 255)) fail('maskThreshold', 'a number in [0, 255) (8-bit units, e.g. 108)', config.maskThreshold)
  if (config.groupBy !== null) {
    try {
      if (config.groupBy !== 'carvana') new RegExp(config.groupBy)
    } catch {
      fail('groupBy', 'carvana or a regular expression (its first group, or the match, names the group)', config.groupBy)
    }
  }
  if (config.cacheDir !== null && (typeof config.cacheDir !== 'string' || config.cacheDir === '')) fail('cacheDir', 'a folder path', config.cacheDir)
  if (config.imageHeight !== null) {
    positiveInt(c, 'imageHeight', 8)
    if (Number.isInteger(config.depth) && Number.isInteger(config.imageHeight) && config.imageHeight % 2 ** encoderDepth(config) !== 0) {
      const k = 2 ** encoderDepth(config)
      fail('imageSize', `WIDTHxHEIGHT with both divisible by 2^depth = ${k} (height ${config.imageHeight}: e.g. ${Math.max(k, Math.round(config.imageHeight / k) * k)})`, `${config.imageSize}x${config.imageHeight}`)
    }
  }
  if (config.channels !== null) positiveInt(c, 'channels')
  if (typeof config.out !== 'string' || config.out === '') fail('out', 'a folder path', config.out)
  oneOf(c, 'model', ['unet', 'vgg16'])
  oneOf(c, 'encoder', [...ENCODER_CHOICES])
  if (config.model === 'vgg16' && config.encoder !== 'vgg16') fail('model', `vgg16 only with --encoder vgg16 (it is the old name of that choice), not --encoder ${config.encoder}`, config.model)
  if (config.encoderWeights !== null && typeof config.encoderWeights !== 'string') fail('encoderWeights', 'a file path', config.encoderWeights)
  if (config.freezeUpTo !== null && typeof config.freezeUpTo !== 'string') fail('freezeUpTo', 'a stage or layer name of the encoder, or a stage number', config.freezeUpTo)
  if (config.encoder === 'plain' && (config.encoderWeights !== null || config.freezeUpTo !== null)) {
    fail(config.encoderWeights !== null ? 'encoderWeights' : 'freezeUpTo', `used only with a pretrained encoder (--encoder ${ENCODER_CHOICES.slice(1).join('|')})`, config.encoderWeights ?? config.freezeUpTo)
  }
  if (config.encoder !== 'plain' && config.imageSize % 32 !== 0) fail('imageSize', `a multiple of 32 with --encoder ${config.encoder}`, config.imageSize)
  positiveInt(c, 'depth')
  positiveInt(c, 'filters')
  positiveInt(c, 'imageSize', 8)
  if (Number.isInteger(config.depth) && Number.isInteger(config.imageSize) && config.imageSize % 2 ** encoderDepth(config) !== 0) {
    const k = 2 ** encoderDepth(config)
    fail('imageSize', `divisible by 2^depth = ${k} (e.g. ${Math.max(k, Math.round(config.imageSize / k) * k)})`, config.imageSize)
  }
  oneOf(c, 'resize', ['resize', 'pad', 'letterbox'])
  positiveInt(c, 'epochs')
  positiveInt(c, 'batchSize')
  if (typeof config.lr !== 'number' || !(config.lr > 0) || !Number.isFinite(config.lr)) fail('lr', 'a positive number', config.lr)
  oneOf(c, 'optimizer', OPTIMIZER_NAMES)
  if (typeof config.momentum !== 'number' || !(config.momentum >= 0 && config.momentum < 1)) fail('momentum', 'a number in [0, 1)', config.momentum)
  else if (config.momentum > 0 && config.optimizer === 'adam') fail('momentum', 'left out with --optimizer adam (adam has no momentum setting; use --optimizer sgd or rmsprop, or drop --momentum)', config.momentum)
  if (typeof config.weightDecay !== 'number' || !(config.weightDecay >= 0) || !Number.isFinite(config.weightDecay)) fail('weightDecay', 'a number ≥ 0', config.weightDecay)
  if (config.monitor !== null) oneOf(c, 'monitor', MONITOR_NAMES)
  oneOf(c, 'lrSchedule', SCHEDULE_NAMES)
  positiveInt(c, 'lrStepEpochs')
  positiveInt(c, 'lrCycleEpochs')
  if (typeof config.lrCycleMult !== 'number' || !(config.lrCycleMult >= 1)) fail('lrCycleMult', 'a number ≥ 1', config.lrCycleMult)
  if (typeof config.skipBad !== 'boolean') fail('skipBad', 'true or false', config.skipBad)
  if (typeof config.loss !== 'string' || config.loss === '') fail('loss', 'a loss name', config.loss)
  if (config.lossSchedule !== null) {
    const ok = Array.isArray(config.lossSchedule) && config.lossSchedule.every((p, i, all) => (lossNames as readonly string[]).includes(p?.loss) && Number.isInteger(p?.fromEpoch) && p.fromEpoch >= 0 && (i === 0 || p.fromEpoch > all[i - 1]!.fromEpoch))
    if (!ok) fail('lossSchedule', `loss@epoch phases with increasing epochs, e.g. bce_dice@0,lovasz_hinge@6 (loss names: ${lossNames.join(', ')})`, config.lossSchedule)
  }
  oneOf(c, 'decoderAttention', DECODER_ATTENTIONS)
  if (typeof config.hypercolumn !== 'boolean') fail('hypercolumn', 'true or false', config.hypercolumn)
  if (typeof config.deepSupervision !== 'boolean') fail('deepSupervision', 'true or false', config.deepSupervision)
  if (config.recipe !== null) oneOf(c, 'recipe', RECIPE_NAMES)
  if (config.pseudoLabels !== null && typeof config.pseudoLabels !== 'string') fail('pseudoLabels', 'a folder with images/ and masks/', config.pseudoLabels)
  if (typeof config.valSplit !== 'number' || !(config.valSplit > 0 && config.valSplit < 1)) fail('valSplit', 'a number between 0 and 1', config.valSplit)
  if (config.folds !== null) {
    positiveInt(c, 'folds', 2)
    positiveInt(c, 'fold', 0)
    if (config.fold >= config.folds) fail('fold', `below --folds (${config.folds})`, config.fold)
  }
  if (!Array.isArray(config.augment)) fail('augment', 'a list of augmentations', config.augment)
  else {
    for (const a of config.augment) {
      try {
        createAugmentation(parseAugmentation(a) as never)
      } catch (cause) {
        // @unet/data's message names the valid augmentations or parameters
        fail('augment', `augmentations of @unet/data's registry (${(cause as Error).message})`, a)
      }
    }
  }
  if (typeof config.dropout !== 'number' || config.dropout < 0 || config.dropout >= 1) fail('dropout', 'a number in [0, 1)', config.dropout)
  if (config.batchNormMomentum !== null && (typeof config.batchNormMomentum !== 'number' || !(config.batchNormMomentum > 0 && config.batchNormMomentum < 1))) {
    fail('batchNormMomentum', 'a number between 0 and 1, or null for no batch norm', config.batchNormMomentum)
  }
  positiveInt(c, 'seed', 0)
  positiveInt(c, 'synthTrain', 2)
  positiveInt(c, 'synthTest', 0)
  positiveInt(c, 'patience', 0)
  positiveInt(c, 'lrPatience', 0)
  if (typeof config.lrFactor !== 'number' || !(config.lrFactor > 0 && config.lrFactor < 1)) fail('lrFactor', 'a number between 0 and 1', config.lrFactor)
  if (typeof config.minLr !== 'number' || config.minLr < 0) fail('minLr', 'a number ≥ 0', config.minLr)
  if (typeof config.timeLimit !== 'number' || config.timeLimit < 0) fail('timeLimit', 'a number of seconds ≥ 0', config.timeLimit)
  oneOf(c, 'backend', ['auto', 'tensorflow', 'wasm', 'cpu'])
  positiveInt(c, 'threads', 0)
  positiveInt(c, 'reportImages', 0)
}

/** Config keys that may change on `--resume` without changing what is learned. */
export const RESUMABLE_KEYS: readonly (keyof TrainConfig)[] = ['epochs', 'timeLimit', 'patience', 'backend', 'threads', 'reportImages', 'out', 'data', 'images', 'masks', 'skipBad']
