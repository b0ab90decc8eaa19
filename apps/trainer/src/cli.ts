#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander'
import { join, resolve } from 'node:path'
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { AUGMENTATIONS, DEFAULT_TRAIN_CONFIG, readConfigFile, resolveTrainConfig, type TrainConfig } from './config'
import { TrainerError } from './errors'
import { ENCODER_CHOICES } from './model'
import { consoleReporter } from './progress'
import { train } from './train'
import { evaluate, formatEvaluation } from './evaluate'
import { predict } from './predict'
import { synth } from './synth'
import { findCheckpoint } from './checkpoint'

const D = DEFAULT_TRAIN_CONFIG

function int(min: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer ≥ ${min}`)
    return n
  }
}

function num(check: (n: number) => boolean, what: string) {
  return (value: string): number => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`must be ${what}`)
    return n
  }
}

function augmentList(value: string): string[] {
  if (value === 'none' || value === '') return []
  const names = value.split(',').map((s) => s.trim()).filter(Boolean)
  for (const n of names) {
    if (!(AUGMENTATIONS as readonly string[]).includes(n)) throw new InvalidArgumentError(`unknown augmentation "${n}"; use a comma list of ${AUGMENTATIONS.join(', ')}, or none`)
  }
  return names
}

function threshold(value: string): 'auto' | number {
  if (value === 'auto') return 'auto'
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError('must be auto or a probability between 0 and 1')
  return n
}

const backendOption = (): Option =>
  new Option('--backend <name>', 'tfjs backend: auto picks the fastest present (env UNET_BACKEND overrides auto)').choices(['auto', 'tensorflow', 'wasm', 'cpu'])

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
}

function latestResumable(cwd: string): string | null {
  const root = join(cwd, 'runs')
  if (!existsSync(root)) return null
  const dirs = readdirSync(root)
    .map((n) => join(root, n))
    .filter((d) => findCheckpoint(join(d, 'last')) !== null)
    .sort((a, b) => statSync(join(b, 'config.json')).mtimeMs - statSync(join(a, 'config.json')).mtimeMs)
  return dirs[0] ?? null
}

/** Keys of the train command's options that map one-to-one onto {@link TrainConfig}. */
const TRAIN_KEYS: (keyof TrainConfig)[] = [
  'data', 'out', 'encoder', 'model', 'encoderWeights', 'freezeUpTo', 'depth', 'filters', 'imageSize', 'resize', 'epochs', 'batchSize', 'lr', 'loss', 'valSplit', 'folds', 'fold', 'augment', 'dropout', 'batchNormMomentum', 'seed',
  'synthTrain', 'synthTest', 'patience', 'lrPatience', 'lrFactor', 'minLr', 'timeLimit', 'backend', 'threads', 'reportImages',
]

/**
 * Builds the `unet` command line program (commander).
 *
 * @returns the program; `program.parseAsync(argv)` runs it
 * @example
 * ```ts
 * await createProgram().parseAsync(['node', 'unet', 'synth', '--out', 'data/synth'])
 * ```
 */
export function createProgram(): Command {
  const program = new Command('unet')
    .description('Train a U-Net on TGS-style segmentation data, choose the threshold, evaluate, and write Kaggle submissions.')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortOptions: false })

  program
    .command('train')
    .description('Train a U-Net; without --data, on the built-in synthetic TGS-like data (generated in memory).')
    .option('--data <dir>', 'Kaggle-layout folder or .zip (train/images, train/masks, depths.csv); default: synthetic data')
    .option('--out <run_dir>', 'run folder for checkpoints, config, history and report (default: runs/run-<date>-<time>)')
    .addOption(new Option('--encoder <name>', `the U-Net's encoder: plain (shaped by --depth/--filters), VGG-16, a ResNet or an SE-ResNet (default: ${D.encoder})`).choices([...ENCODER_CHOICES]))
    .addOption(new Option('--model <name>', 'old name of --encoder: --model vgg16 is --encoder vgg16').choices(['unet', 'vgg16']))
    .option('--encoder-weights <file>', 'pretrained encoder weights: VGG-16 Keras .h5 (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5) or tfjs model.json folder; ResNets .safetensors (torchvision/timm names) or classification_models .h5')
    .option('--freeze-up-to <name>', 'encoder layers up to this point do not train: a stage (vgg16: block1-block5; resnets: stem, layer1-layer4), its number, a layer name, or none')
    .option('--depth <n>', `down-sampling stages of the U-Net (default: ${D.depth})`, int(1))
    .option('--filters <n>', `filters of the first stage, doubled at each stage (default: ${D.filters})`, int(1))
    .option('--image-size <n>', `side of the square model input; 101×101 images are resized or padded to it (default: ${D.imageSize})`, int(8))
    .addOption(new Option('--resize <mode>', `how images reach --image-size: bilinear resize or reflect pad (default: ${D.resize})`).choices(['resize', 'pad']))
    .option('--epochs <n>', `epochs to train (default: ${D.epochs})`, int(1))
    .option('--batch-size <n>', `images per step (default: ${D.batchSize})`, int(1))
    .option('--lr <x>', `Adam learning rate (default: ${D.lr})`, num((n) => n > 0, 'a positive number'))
    .option('--loss <name>', `loss: bce, bce_logits, dice, bce_dice, jaccard, focal, lovasz_hinge, lovasz_hinge_elu (default: ${D.loss})`)
    .option('--val-split <x>', `share of train images held out for validation, stratified by coverage (default: ${D.valSplit})`, num((n) => n > 0 && n < 1, 'between 0 and 1'))
    .option('--folds <k>', 'use a stratified K-fold split instead of --val-split', int(2))
    .option('--fold <i>', 'with --folds: which fold (0-based) is validation (default: 0)', int(0))
    .option('--augment <list>', `comma list of ${AUGMENTATIONS.join(', ')}, or none (default: ${D.augment.join(',')})`, augmentList)
    .option('--dropout <x>', `dropout rate in the U-Net; non-zero dropout makes runs not bit-reproducible (default: ${D.dropout})`, num((n) => n >= 0 && n < 1, 'in [0, 1)'))
    .option('--bn-momentum <x|none>', `batch-norm momentum, or none for no batch norm (default: ${D.batchNormMomentum})`, (v: string) => {
      // commander turns a parsed null into '', so "none" travels as a string and becomes null below
      if (v === 'none') return 'none'
      return num((n) => n > 0 && n < 1, 'between 0 and 1, or none')(v)
    })
    .option('--seed <n>', `seed of weights, split, data order and augmentation (default: ${D.seed})`, int(0))
    .option('--synth-train <n>', `synthetic data: train images to generate (default: ${D.synthTrain})`, int(2))
    .option('--synth-test <n>', `synthetic data: test images to generate (default: ${D.synthTest})`, int(0))
    .option('--patience <n>', `early stopping: epochs without a better validation TGS score; 0 = off (default: ${D.patience})`, int(0))
    .option('--lr-patience <n>', `reduce LR on plateau: epochs without improvement; 0 = off (default: ${D.lrPatience})`, int(0))
    .option('--lr-factor <x>', `reduce LR on plateau: multiply the rate by this (default: ${D.lrFactor})`, num((n) => n > 0 && n < 1, 'between 0 and 1'))
    .option('--min-lr <x>', `reduce LR on plateau: lower bound (default: ${D.minLr})`, num((n) => n >= 0, 'a number ≥ 0'))
    .option('--time-limit <seconds>', 'stop and save after this much training time; --resume continues (default: none)', num((n) => n >= 0, 'a number of seconds ≥ 0'))
    .addOption(backendOption())
    .option('--threads <n>', 'wasm backend threads (default: the backend decides)', int(0))
    .option('--report-images <n>', `validation images in the report grid (default: ${D.reportImages})`, int(0))
    .option('--config <file>', 'JSON file with any of these settings (camelCase keys, e.g. {"epochs": 10}); flags override it')
    .option('--resume', 'continue the run in --out (default: the newest under ./runs) from its last checkpoint')
    .option('--quiet', 'print only the final summary')
    .option('--json', 'print JSON lines (one event each) instead of progress bars; RUN_DIR/log.jsonl is always written')
    .action(async (opts: Record<string, unknown>) => {
      const fromFile = typeof opts.config === 'string' ? await readConfigFile(opts.config) : {}
      const fromFlags: Partial<TrainConfig> = {}
      if (opts.bnMomentum !== undefined) opts.batchNormMomentum = opts.bnMomentum === 'none' ? null : opts.bnMomentum
      for (const key of TRAIN_KEYS) if (opts[key] !== undefined) (fromFlags as Record<string, unknown>)[key] = opts[key]
      if (opts.fold !== undefined && opts.folds === undefined && fromFile.folds === undefined) {
        throw new TrainerError('BAD_FLAG', '--fold needs --folds K (the number of folds)')
      }
      const resume = opts.resume === true
      if (fromFlags.out === undefined && fromFile.out === undefined) {
        if (resume) {
          const latest = latestResumable(process.cwd())
          if (!latest) throw new TrainerError('NO_RUN', '--resume: no run with a checkpoint under ./runs; pass --out RUN_DIR')
          fromFlags.out = latest
        } else {
          fromFlags.out = join('runs', `run-${stamp()}`)
        }
      }
      const config = resolveTrainConfig(fromFile, fromFlags)
      const explicitKeys = [...Object.keys(fromFile), ...Object.keys(fromFlags)]
      const controller = new AbortController()
      const reporter = consoleReporter({ quiet: opts.quiet === true, json: opts.json === true, logFile: join(resolve(config.out), 'log.jsonl') })
      const onSigint = (): void => {
        if (controller.signal.aborted) process.exit(130)
        controller.abort()
        reporter.note('interrupted: saving a checkpoint after this step (Ctrl-C again to quit without saving)')
      }
      process.on('SIGINT', onSigint)
      process.on('SIGTERM', onSigint)
      try {
        const summary = await train(config, { resume, signal: controller.signal, reporter, explicitKeys })
        if (summary.stopReason === 'interrupted') process.exitCode = 130
        else if (summary.stopReason.startsWith('loss became')) {
          process.stderr.write(`unet: error: ${summary.stopReason}\n`)
          process.exitCode = 1
        }
      } finally {
        process.off('SIGINT', onSigint)
        process.off('SIGTERM', onSigint)
      }
    })

  program
    .command('evaluate')
    .description("Score a run's best checkpoint: TGS score, mean IoU, Dice, per coverage class, threshold sweep.")
    .option('--model <run_dir>', 'run folder written by `unet train` (default: the newest under ./runs)')
    .option('--data <dir>', "dataset to score (all its labelled images); default: the run's own validation split")
    .option('--threshold <x>', "probability threshold to report at (default: the run's chosen one)", threshold)
    .addOption(new Option('--tta <mode>', 'test-time augmentation (default: none)').choices(['none', 'flip']))
    .addOption(backendOption())
    .option('--json', 'print the result as JSON')
    .action(async (opts: { model?: string; data?: string; threshold?: 'auto' | number; tta?: string; backend?: TrainConfig['backend']; json?: boolean }) => {
      const result = await evaluate({
        ...(opts.model ? { model: opts.model } : {}),
        ...(opts.data ? { data: opts.data } : {}),
        ...(typeof opts.threshold === 'number' ? { threshold: opts.threshold } : {}),
        tta: opts.tta === 'flip',
        ...(opts.backend ? { backend: opts.backend } : {}),
      })
      process.stdout.write((opts.json ? JSON.stringify(result, null, 2) : formatEvaluation(result)) + '\n')
    })

  program
    .command('predict')
    .description("Predict test/images with a run's best checkpoint and write a Kaggle submission (RLE, column-major).")
    .option('--model <run_dir>', 'run folder written by `unet train` (default: the newest under ./runs)')
    .option('--data <dir>', "Kaggle-layout folder or .zip holding test/images (default: the run's data; for synthetic runs its synthetic test set)")
    .option('--out <file>', 'submission CSV, written atomically; gzipped when it ends in .gz (default: submission.csv)')
    .option('--threshold <auto|x>', "probability threshold; auto = the run's chosen one (default: auto)", threshold)
    .addOption(new Option('--tta <mode>', 'test-time augmentation: flip averages with the mirrored image (default: none)').choices(['none', 'flip']))
    .option('--probabilities <dir>', 'also write each probability map as an 8-bit PNG <id>.png here')
    .option('--batch-size <n>', 'images per forward pass (default: the run\'s batch size)', int(1))
    .option('--chunk-size <n>', 'test images read and predicted at a time; memory grows with it (default: 256)', int(1))
    .option('--quiet', 'print only the final line')
    .addOption(backendOption())
    .action(async (opts: { model?: string; data?: string; out?: string; threshold?: 'auto' | number; tta?: 'none' | 'flip'; probabilities?: string; batchSize?: number; chunkSize?: number; quiet?: boolean; backend?: TrainConfig['backend'] }) => {
      // progress on a terminal only: a redrawn line would clutter a log file or a pipe
      const progress = opts.quiet !== true && process.stderr.isTTY === true
      const started = performance.now()
      const r = await predict({
        ...(opts.model ? { model: opts.model } : {}),
        ...(opts.data ? { data: opts.data } : {}),
        ...(opts.out ? { out: opts.out } : {}),
        threshold: opts.threshold ?? 'auto',
        tta: opts.tta ?? 'none',
        ...(opts.probabilities ? { probabilities: opts.probabilities } : {}),
        ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
        ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
        ...(opts.backend ? { backend: opts.backend } : {}),
        ...(progress
          ? {
              onProgress: (done: number, total: number | null) => {
                const rate = done / Math.max(1e-3, (performance.now() - started) / 1000)
                process.stderr.write(`\rpredicted ${done}${total === null ? '' : `/${total}`} test images (${rate.toFixed(1)} images/s)`)
              },
            }
          : {}),
      })
      if (progress) process.stderr.write('\n')
      process.stdout.write(`wrote ${r.out}: ${r.rows} rows (${r.nonEmpty} with salt), threshold ${r.threshold.toFixed(2)}\n`)
    })

  program
    .command('synth')
    .description('Write the synthetic TGS-like dataset in the Kaggle layout (train/, test/, train.csv, depths.csv).')
    .requiredOption('--out <dir>', 'folder to write')
    .option('--count <n>', 'train images (default: 400)', int(1), 400)
    .option('--test-count <n>', 'test images (default: 100)', int(0), 100)
    .option('--seed <n>', `seed (default: ${D.seed})`, int(0), D.seed)
    .action(async (opts: { out: string; count: number; testCount: number; seed: number }) => {
      await synth({ out: opts.out, count: opts.count, testCount: opts.testCount, seed: opts.seed })
      process.stdout.write(`wrote ${opts.count} train and ${opts.testCount} test images (seed ${opts.seed}) to ${opts.out}\n`)
    })

  return program
}

/**
 * Runs the `unet` command: errors become one line on stderr and a non-zero exit code.
 *
 * @param argv - `process.argv`
 * @returns the exit code
 * @example
 * ```ts
 * process.exitCode = await main(process.argv)
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (error) {
    const e = error as Error & { code?: string }
    const known = error instanceof TrainerError || /Error$/.test(e.name ?? '')
    process.stderr.write(`unet: error: ${e.message ?? String(error)}\n`)
    if (process.env.UNET_DEBUG) process.stderr.write(`${e.stack ?? ''}\n`)
    else if (!(error instanceof TrainerError) && !known) process.stderr.write('(set UNET_DEBUG=1 to see the stack trace)\n')
    return 1
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  // exit explicitly: the wasm backend's worker threads would otherwise keep the process alive
  void main(process.argv).then((code) => {
    process.stdout.write('', () => process.exit(code))
  })
}
