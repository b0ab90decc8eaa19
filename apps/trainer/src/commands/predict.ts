import { Option, type Command } from 'commander'
import type { TrainConfig } from '../config'
import { predict } from '../predict'
import { backendOption, int, threshold } from './options'

/** Adds `unet predict`. */
export function addPredictCommand(program: Command): void {
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
}
