import { InvalidArgumentError, Option, type Command } from 'commander'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { AUGMENTATION_NAMES, LAYOUTS } from '@unet/data'
import { findCheckpoint, LR_SCHEDULES, MONITOR_NAMES, MONITORS, OPTIMIZER_NAMES, OPTIMIZERS, SCHEDULE_NAMES } from '@unet/train'
import { DECODER_ATTENTIONS } from '@unet/layers'
import { lossNames } from '@unet/losses'
import { DEFAULT_TRAIN_CONFIG, flagOf, parseImageSize, parseLossSchedule, readConfigFile, resolveTrainConfig, splitAugmentList, type LossPhaseConfig, type TrainConfig } from '../config'
import { describeRecipe, RECIPE_NAMES, RECIPES, recipeSettings } from '../recipes'
import { TrainerError } from '../errors'
import { consoleReporter } from '../progress'
import { train, type TrainSummary } from '../train'
import { ENCODER_CHOICES } from '../model'
import { backendOption, int, num } from './options'

const D = DEFAULT_TRAIN_CONFIG

function imageSize(value: string): { imageSize: number; imageHeight: number | null } {
  try {
    return parseImageSize(value)
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--image-size /, ''))
  }
}

function lossScheduleArg(value: string): LossPhaseConfig[] {
  try {
    return parseLossSchedule(value)
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--loss-schedule:? /, ''))
  }
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
}

function latestResumable(cwd: string): string | null {
  const root = join(cwd, 'runs')
  if (!existsSync(root)) return null
  const dirs = readdirSync(root)
    .map((n) => join(root, n))
    .filter((d) => findCheckpoint(join(d, 'checkpoints'), 'last') !== null && existsSync(join(d, 'config.json')))
    .sort((a, b) => statSync(join(b, 'config.json')).mtimeMs - statSync(join(a, 'config.json')).mtimeMs)
  return dirs[0] ?? null
}

const list = (table: Record<string, { description: string }>): string =>
  Object.entries(table)
    .map(([name, d]) => `${name} (${d.description})`)
    .join('; ')

/** Keys of the train command's options that map one-to-one onto {@link TrainConfig}. */
const TRAIN_KEYS: (keyof TrainConfig)[] = [
  'data', 'layout', 'images', 'masks', 'maskSuffix', 'maskThreshold', 'groupBy', 'out', 'encoder', 'model', 'encoderWeights', 'freezeUpTo', 'depth', 'filters', 'imageSize', 'resize', 'epochs', 'batchSize', 'lr', 'optimizer', 'momentum', 'weightDecay', 'monitor',
  'lrSchedule', 'lrStepEpochs', 'lrCycleEpochs', 'lrCycleMult', 'imageHeight', 'loss', 'lossSchedule', 'decoderAttention', 'hypercolumn', 'deepSupervision', 'recipe', 'valSplit', 'folds', 'fold', 'augment', 'dropout', 'batchNormMomentum', 'seed', 'skipBad',
  'synthTrain', 'synthTest', 'patience', 'lrPatience', 'lrFactor', 'minLr', 'timeLimit', 'backend', 'threads', 'reportImages',
]
/** Keys of the data path's options (kept apart so the list above can grow without conflicts). */
const DATA_KEYS: (keyof TrainConfig)[] = ['cacheDir']

/** Exit codes of a run stopped by a signal: 128 + the signal's number, as shells report it. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const

/**
 * Adds `unet train`. SIGINT and SIGTERM stop the run after the current step: the mid-epoch checkpoint is saved
 * (atomically) and the command exits with 130 / 143; a second signal while it saves waits for the save and says so.
 */
export function addTrainCommand(program: Command): void {
  addTrainOptions(
    program
      .command('train')
      .description('Train a U-Net; without --data, on the built-in synthetic TGS-like data (generated in memory).'),
  )
    .option('--resume', 'continue the run in --out (default: the newest under ./runs) from its last checkpoint')
    .action(async (opts: Record<string, unknown>) => {
      const resume = opts.resume === true
      const resumeOut = (): string => {
        const latest = latestResumable(process.cwd())
        if (!latest) throw new TrainerError('NO_RUN', '--resume: no run with a checkpoint under ./runs; pass --out RUN_DIR')
        return latest
      }
      const { config, explicitKeys } = await trainConfigFromFlags(opts, resume ? { defaultOut: resumeOut } : {})
      await trainWithSignals(config, { resume, explicitKeys, quiet: opts.quiet === true, json: opts.json === true })
    })
}

/**
 * Adds the flags of `unet train` (all but `--resume`) to a command: `unet kfold` and `unet pseudo-label` train with
 * the same flags. {@link trainConfigFromFlags} turns the parsed flags into a config.
 *
 * @param command - the command to add them to
 * @param options - `legacyModelFlag: false` leaves out `--model` (the old name of `--encoder`)
 * @returns the command
 */
export function addTrainOptions(command: Command, options: { legacyModelFlag?: boolean } = {}): Command {
  // `unet pseudo-label` names its source run --model, so it goes without this old name of --encoder
  if (options.legacyModelFlag !== false) command.addOption(new Option('--model <name>', 'old name of --encoder: --model vgg16 is --encoder vgg16').choices(['unet', 'vgg16']))
  return command
    .option('--data <dir>', `dataset folder or .zip, its layout detected (${LAYOUTS.join(', ')}: TGS train/images + train/masks, Carvana train/ + train_masks/, or images/ + masks/ pairs); default: synthetic TGS-like data`)
    .addOption(new Option('--layout <name>', 'read --data as this layout instead of detecting it').choices([...LAYOUTS]))
    .option('--images <dir>', 'folder pairs: the images folder (with --masks)')
    .option('--masks <dir>', 'folder pairs: the masks folder, matched to the images by file stem')
    .option('--mask-suffix <text>', 'a mask is named after its image plus this (e.g. _mask for car_01_mask.png)')
    .option('--mask-threshold <n>', 'foreground where a mask is above this, in 8-bit units (whale-fluke JPEG masks: 108); default: masks must be binary', num((n) => n >= 0 && n < 255, 'in [0, 255)'))
    .option('--cache-dir <dir>', 'photos streamed from disk (Carvana, folder pairs): keep each train image here once resized to --image-size (8-bit), so later epochs skip decoding it; default: decode every epoch')
    .option('--group-by <carvana|regex>', 'keep groups on one side of the split: carvana (the car id), or a regular expression whose first group of the image id names the group')
    .option('--out <run_dir>', 'run folder for checkpoints, config, history and report (default: runs/run-<date>-<time>)')
    .addOption(new Option('--encoder <name>', `the U-Net's encoder: plain (shaped by --depth/--filters), VGG-16, a ResNet or an SE-ResNet (default: ${D.encoder})`).choices([...ENCODER_CHOICES]))
    .option('--encoder-weights <file>', 'pretrained encoder weights: VGG-16 Keras .h5 (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5) or tfjs model.json folder; ResNets .safetensors (torchvision/timm names) or classification_models .h5')
    .option('--freeze-up-to <name>', 'encoder layers up to this point do not train: a stage (vgg16: block1-block5; resnets: stem, layer1-layer4), its number, a layer name, or none')
    .option('--depth <n>', `down-sampling stages of the U-Net (default: ${D.depth})`, int(1))
    .option('--filters <n>', `filters of the first stage, doubled at each stage (default: ${D.filters})`, int(1))
    .option('--image-size <WxH|n>', `model input: WIDTHxHEIGHT (e.g. 384x192) or one number for a square; each side divisible by 2^depth (default: ${D.imageSize})`, imageSize)
    .addOption(new Option('--resize <mode>', `how images reach --image-size: resize (stretch, bilinear), pad (reflect) or letterbox (resize keeping the aspect ratio, then pad) (default: ${D.resize})`).choices(['resize', 'pad', 'letterbox']))
    .option('--epochs <n>', `epochs to train (default: ${D.epochs})`, int(1))
    .option('--batch-size <n>', `images per step (default: ${D.batchSize})`, int(1))
    .option('--lr <x>', `learning rate at the start (default: ${D.lr})`, num((n) => n > 0, 'a positive number'))
    .addOption(new Option('--optimizer <name>', `${list(OPTIMIZERS)} (default: ${D.optimizer})`).choices(OPTIMIZER_NAMES))
    .option('--momentum <x>', `momentum of sgd and rmsprop (default: ${D.momentum})`, num((n) => n >= 0 && n < 1, 'in [0, 1)'))
    .option('--weight-decay <x>', `decoupled weight decay: kernels shrink by lr × this after each step (default: ${D.weightDecay})`, num((n) => n >= 0, 'a number ≥ 0'))
    .addOption(new Option('--monitor <name>', `what picks the best checkpoint and drives early stopping and LR reduction: ${list(MONITORS)} (default: val_tgs on TGS data, val_dice elsewhere)`).choices(MONITOR_NAMES))
    .addOption(new Option('--lr-schedule <name>', `${list(LR_SCHEDULES)} (default: ${D.lrSchedule})`).choices(SCHEDULE_NAMES))
    .option('--lr-step-epochs <n>', `step schedule: epochs between cuts by --lr-factor (default: ${D.lrStepEpochs})`, int(1))
    .option('--lr-cycle-epochs <n>', `cosine schedule: epochs of the first cycle (default: ${D.lrCycleEpochs})`, int(1))
    .option('--lr-cycle-mult <x>', `cosine schedule: each cycle this many times longer (default: ${D.lrCycleMult})`, num((n) => n >= 1, 'a number ≥ 1'))
    .option('--loss <name>', `loss: ${lossNames.join(', ')} (default: ${D.loss})`)
    .option('--loss-schedule <list>', `losses by epoch, loss@first_epoch, e.g. "bce_dice@0,lovasz_hinge@6" (the TGS winners' switch to Lovasz hinge; a logit loss makes the model output logits, and losses on probabilities then see their sigmoid); default: --loss throughout`, lossScheduleArg)
    .addOption(new Option('--decoder-attention <name>', `attention after each decoder stage: none, or scse (concurrent spatial and channel squeeze-and-excitation) (default: ${D.decoderAttention})`).choices([...DECODER_ATTENTIONS]))
    .option('--hypercolumn', 'concatenate every decoder stage, up-sampled to full resolution, before the output')
    .option('--deep-supervision', 'auxiliary mask heads on the decoder stages and a "has mask" classifier on the bottleneck; the segmentation loss counts only non-empty images, and predict zeroes the masks of images the classifier calls empty (--empty-threshold)')
    .addOption(new Option('--recipe <name>', `a preset of settings (flags and --config override it; what it turns on is printed): ${Object.entries(RECIPES).map(([n, r]) => `${n} (${r.description})`).join('; ')}`).choices([...RECIPE_NAMES]))
    .option('--val-split <x>', `share of train images held out for validation, stratified by coverage (default: ${D.valSplit})`, num((n) => n > 0 && n < 1, 'between 0 and 1'))
    .option('--folds <k>', 'use a stratified K-fold split instead of --val-split', int(2))
    .option('--fold <i>', 'with --folds: which fold (0-based) is validation (default: 0)', int(0))
    .option('--augment <list>', `comma list of name[:param=value…] from @unet/data's registry, e.g. "horizontal_flip,rotate:limit=5:p=0.3,blur:blur_limit=2:p=0.5", or none; names: ${AUGMENTATION_NAMES.join(', ')} (default: ${D.augment.join(',')})`, splitAugmentList)
    .option('--dropout <x>', `dropout rate in the U-Net; seeded per step, so dropout runs resume exactly (default: ${D.dropout})`, num((n) => n >= 0 && n < 1, 'in [0, 1)'))
    .option('--bn-momentum <x|none>', `batch-norm momentum, or none for no batch norm (default: ${D.batchNormMomentum})`, (v: string) => {
      // commander turns a parsed null into '', so "none" travels as a string and becomes null below
      if (v === 'none') return 'none'
      return num((n) => n > 0 && n < 1, 'between 0 and 1, or none')(v)
    })
    .option('--seed <n>', `seed of weights, split, data order, augmentation and dropout (default: ${D.seed})`, int(0))
    .option('--skip-bad', 'train on the usable files when some are corrupt, unpaired or of the wrong size (listed in RUN/skipped.json, log.jsonl and the report); default: stop and name them')
    .option('--synth-train <n>', `synthetic data: train images to generate (default: ${D.synthTrain})`, int(2))
    .option('--synth-test <n>', `synthetic data: test images to generate (default: ${D.synthTest})`, int(0))
    .option('--patience <n>', `early stopping: epochs without a better monitor value; 0 = off (default: ${D.patience})`, int(0))
    .option('--lr-patience <n>', `plateau schedule: epochs without improvement before the rate is cut; 0 = off (default: ${D.lrPatience})`, int(0))
    .option('--lr-factor <x>', `plateau and step schedules: multiply the rate by this (default: ${D.lrFactor})`, num((n) => n > 0 && n < 1, 'between 0 and 1'))
    .option('--min-lr <x>', `plateau and cosine schedules: lower bound of the rate (default: ${D.minLr})`, num((n) => n >= 0, 'a number ≥ 0'))
    .option('--time-limit <seconds>', 'stop and save after this much training time; --resume continues (default: none)', num((n) => n >= 0, 'a number of seconds ≥ 0'))
    .addOption(backendOption())
    .option('--threads <n>', 'wasm backend threads (default: the backend decides)', int(0))
    .option('--report-images <n>', `validation images in the report grid (default: ${D.reportImages})`, int(0))
    .option('--config <file>', 'YAML (.yaml/.yml) or JSON file with any of these settings as camelCase keys (epochs: 10, imageSize: 384x192, augment: [horizontal_flip, "rotate:limit=5"]); flags override it')
    .option('--quiet', 'print only the final summary')
    .option('--json', 'print JSON lines (one event each) instead of progress bars; RUN_DIR/log.jsonl is always written')
}

/**
 * The config of parsed train flags: the recipe's settings (`--recipe`), then the config file (`--config`), then the
 * flags; `out` defaults to runs/run-<date>-<time>. Prints what a recipe turned on (to stderr).
 *
 * @param opts - what commander parsed for {@link addTrainOptions}'s flags
 * @param options - `print`: where the recipe's summary goes (default stderr; null for nowhere); `defaultOut`: the run
 *   folder when neither flags nor config file name one (default: a new runs/run-<date>-<time>); `base`: a config
 *   under all of them (`unet pseudo-label` starts from the source run's)
 * @returns the resolved config and the keys the user set (config file or flags)
 * @throws {TrainerError} `BAD_FLAG` / `BAD_CONFIG` for flags that do not go together or bad values
 */
export async function trainConfigFromFlags(
  opts: Record<string, unknown>,
  options: { print?: ((line: string) => void) | null; defaultOut?: () => string; base?: Partial<TrainConfig> } = {},
): Promise<{ config: TrainConfig; explicitKeys: string[] }> {
  const fromFile = typeof opts.config === 'string' ? await readConfigFile(opts.config) : {}
  const fromFlags: Partial<TrainConfig> = {}
  if (opts.bnMomentum !== undefined) opts.batchNormMomentum = opts.bnMomentum === 'none' ? null : opts.bnMomentum
  if (opts.imageSize !== undefined) Object.assign(opts, opts.imageSize as object)
  for (const key of [...TRAIN_KEYS, ...DATA_KEYS]) if (opts[key] !== undefined) (fromFlags as Record<string, unknown>)[key] = opts[key]
  if (opts.fold !== undefined && opts.folds === undefined && fromFile.folds === undefined) {
    throw new TrainerError('BAD_FLAG', '--fold needs --folds K (the number of folds)')
  }
  if (fromFlags.out === undefined && fromFile.out === undefined) fromFlags.out = options.defaultOut?.() ?? join('runs', `run-${stamp()}`)
  const recipe = (fromFlags.recipe ?? fromFile.recipe ?? null) as string | null
  const fromRecipe = recipe !== null ? recipeSettings(recipe) : {}
  const config = resolveTrainConfig(options.base ?? {}, fromRecipe, fromFile, fromFlags)
  const explicitKeys = [...Object.keys(fromFile), ...Object.keys(fromFlags)]
  if (recipe !== null && options.print !== null) {
    const { applied, overridden } = describeRecipe(recipe, explicitKeys)
    ;(options.print ?? ((line: string) => process.stderr.write(line + '\n')))(
      `--recipe ${recipe}: ${applied.join(' ')}${overridden.length > 0 ? ` (yours instead: ${overridden.map(flagOf).join(' ')})` : ''}`,
    )
  }
  return { config, explicitKeys: recipe !== null ? [...new Set([...Object.keys(fromRecipe), ...explicitKeys])] : explicitKeys }
}

/**
 * Runs {@link train} the way `unet train` does: progress on the console, SIGINT / SIGTERM stop it after the current
 * step (checkpoint saved; exit code 130 / 143), a NaN loss sets exit code 1.
 *
 * @param config - the resolved config
 * @param options - resume, the keys the user set, output style
 * @returns the summary
 */
export async function trainWithSignals(
  config: TrainConfig,
  options: { resume: boolean; explicitKeys: readonly string[]; quiet?: boolean; json?: boolean },
): Promise<TrainSummary> {
  const controller = new AbortController()
  const reporter = consoleReporter({ quiet: options.quiet === true, json: options.json === true, logFile: join(resolve(config.out), 'log.jsonl') })
  let signal: keyof typeof SIGNAL_EXIT | null = null
  const onSignal = (name: keyof typeof SIGNAL_EXIT): void => {
    if (signal !== null) {
      // quitting now could only lose the checkpoint being written; the save is atomic and nearly done
      process.stderr.write(`unet: ${name} while stopping: still saving the checkpoint (atomic, a few seconds); waiting for it to finish before exiting\n`)
      return
    }
    signal = name
    controller.abort()
    process.stderr.write(`unet: ${name}: stopping after this step and saving a checkpoint (continue with: unet train --out ${config.out} --resume)\n`)
  }
  const onInt = (): void => onSignal('SIGINT')
  const onTerm = (): void => onSignal('SIGTERM')
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  try {
    const summary = await train(config, { resume: options.resume, signal: controller.signal, reporter, explicitKeys: options.explicitKeys })
    if (summary.stopReason.kind === 'interrupted') process.exitCode = SIGNAL_EXIT[signal ?? 'SIGINT']
    else if (summary.stopReason.kind === 'nan_loss') {
      process.stderr.write(`unet: error: loss became ${summary.stopReason.loss} at step ${summary.stopReason.globalStep + 1}; the best checkpoint was kept as it was — lower --lr or change --loss\n`)
      process.exitCode = 1
    }
    return summary
  } finally {
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
  }
}
