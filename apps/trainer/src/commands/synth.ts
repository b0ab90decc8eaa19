import { Option, type Command } from 'commander'
import { DEFAULT_TRAIN_CONFIG } from '../config'
import { synth, SYNTH_LAYOUTS, type SynthLayout } from '../synth'
import { int } from './options'

/** Adds `unet synth` (a synthetic dataset: TGS-like in the Kaggle layout, or Carvana-like photos). */
export function addSynthCommand(program: Command): void {
  program
    .command('synth')
    .description('Write a synthetic dataset: TGS-like in the Kaggle layout (train/, test/, train.csv, depths.csv), or Carvana-like RGB photos in the Carvana layout (train/, train_masks/).')
    .requiredOption('--out <dir>', 'folder to write')
    .addOption(new Option('--layout <name>', 'tgs: grey 101×101 salt images; carvana: RGB JPEG photos (default 1918×1280) with PNG masks, 16 views per car').choices([...SYNTH_LAYOUTS]).default('tgs'))
    .option('--count <n>', 'train images', int(1), 400)
    .option('--test-count <n>', 'tgs layout: test images', int(0), 100)
    .option('--width <n>', 'carvana layout: photo width', int(1), 1918)
    .option('--height <n>', 'carvana layout: photo height', int(1), 1280)
    .option('--seed <n>', 'seed', int(0), DEFAULT_TRAIN_CONFIG.seed)
    .action(async (opts: { out: string; layout: SynthLayout; count: number; testCount: number; width: number; height: number; seed: number }) => {
      await synth(opts)
      const what = opts.layout === 'carvana' ? `${opts.count} Carvana-like ${opts.width}×${opts.height} photos` : `${opts.count} train and ${opts.testCount} test images`
      process.stdout.write(`wrote ${what} (seed ${opts.seed}) to ${opts.out}\n`)
    })
}
