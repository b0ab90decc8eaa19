import { Option, type Command } from 'commander'
import type { TrainConfig } from '../config'
import { evaluate, formatEvaluation } from '../evaluate'
import { backendOption, threshold } from './options'

/** Adds `unet evaluate`. */
export function addEvaluateCommand(program: Command): void {
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
}
