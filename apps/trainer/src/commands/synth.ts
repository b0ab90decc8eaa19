import type { Command } from 'commander'
import { DEFAULT_TRAIN_CONFIG } from '../config'
import { synth } from '../synth'
import { int } from './options'

/** Adds `unet synth` (the synthetic TGS-like dataset in the Kaggle layout). */
export function addSynthCommand(program: Command): void {
  program
    .command('synth')
    .description('Write the synthetic TGS-like dataset in the Kaggle layout (train/, test/, train.csv, depths.csv).')
    .requiredOption('--out <dir>', 'folder to write')
    .option('--count <n>', 'train images (default: 400)', int(1), 400)
    .option('--test-count <n>', 'test images (default: 100)', int(0), 100)
    .option('--seed <n>', `seed (default: ${DEFAULT_TRAIN_CONFIG.seed})`, int(0), DEFAULT_TRAIN_CONFIG.seed)
    .action(async (opts: { out: string; count: number; testCount: number; seed: number }) => {
      await synth({ out: opts.out, count: opts.count, testCount: opts.testCount, seed: opts.seed })
      process.stdout.write(`wrote ${opts.count} train and ${opts.testCount} test images (seed ${opts.seed}) to ${opts.out}\n`)
    })
}
