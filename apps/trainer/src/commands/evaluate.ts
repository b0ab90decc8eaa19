import type { Command } from 'commander'
import type { TtaView } from '@unet/predict'
import { evaluateRun, type EvaluateRunResult } from '@unet/predict/node'
import { describeSkipped, interruptible, startPredictBackend, table, ttaArg, ttaHelp, emptyThresholdArg, emptyThresholdHelp, modelSetHelp, modelsOf, snapshotsHelp, describeModelSet } from './shared'
import { backendOption, int, threshold } from './options'

interface EvaluateFlags {
  model?: string
  snapshots?: boolean
  emptyThreshold?: number | 'none'
  data: string
  threshold?: 'auto' | number
  tta?: TtaView[]
  minArea?: number
  fillHoles?: boolean
  perImage?: string
  maskThreshold?: number
  skipBad?: boolean
  batchSize?: number
  chunkSize?: number
  backend?: string
  threads?: number
  json?: boolean
}

/**
 * The tables `unet evaluate` prints.
 *
 * @param r - the result
 * @param worst - how many of the worst images to list
 * @returns text
 */
export function formatEvaluation(r: EvaluateRunResult, worst = 5): string {
  const s = r.scores
  const tgs = s.tgs !== undefined
  return [
    `${r.images} images of ${r.source} (${r.layout}) at threshold ${r.threshold.toFixed(2)}: Dice ${s.dice.toFixed(4)}, IoU ${s.iou.toFixed(4)}, pixel accuracy ${s.pixelAccuracy.toFixed(4)}${tgs ? `, TGS score ${(s.tgs as number).toFixed(4)}` : ''}`,
    '',
    `threshold sweep (best by ${r.best.metric}: ${r.best.threshold.toFixed(2)} → ${r.best.score.toFixed(4)}):`,
    table(
      ['threshold', 'Dice', 'IoU', ...(tgs ? ['TGS'] : []), ''],
      r.sweep.map((t) => [t.threshold.toFixed(2), t.dice.toFixed(4), t.iou.toFixed(4), ...(tgs ? [t.tgs.toFixed(4)] : []), t.threshold === r.best.threshold ? '< best' : Math.abs(t.threshold - r.threshold) < 1e-9 ? '< used' : '']),
    ),
    '',
    `worst ${Math.min(worst, r.perImage.length)} images:`,
    table(
      ['id', 'Dice', 'IoU', 'pixel acc.', 'true px', 'predicted px'],
      r.perImage.slice(0, worst).map((p) => [p.id, p.dice.toFixed(4), p.iou.toFixed(4), p.pixelAccuracy.toFixed(4), String(p.truePixels), String(p.predictedPixels)]),
    ),
  ].join('\n')
}

/**
 * Adds `unet evaluate`: scores a run's model on any labelled dataset.
 *
 * @param program - the `unet` program
 * @returns the command
 */
export function addEvaluateCommand(program: Command): Command {
  return program
    .command('evaluate')
    .description("Score a run's model on a labelled dataset: Dice, IoU, pixel accuracy, TGS score where it applies, threshold sweep, per-image scores.")
    .option('--model <dir>', modelSetHelp)
    .option('--snapshots', snapshotsHelp)
    .option('--empty-threshold <p|none>', emptyThresholdHelp, emptyThresholdArg)
    .requiredOption('--data <dir>', 'a labelled dataset (TGS, Carvana or folders layout, folder or zip); every image with a mask is scored')
    .option('--threshold <auto|x>', "threshold of the reported scores; auto = the run's chosen one (default: auto)", threshold)
    .option('--tta <views>', ttaHelp, ttaArg)
    .option('--min-area <n>', 'remove connected components smaller than n pixels before scoring (default: 0)', int(0))
    .option('--fill-holes', 'fill holes in the masks before scoring')
    .option('--per-image <file>', 'write per-image scores as CSV, worst first')
    .option('--mask-threshold <n>', '8-bit masks: foreground is > n (e.g. 108 for JPEG masks; default: any non-zero)', int(0))
    .option('--skip-bad', 'score the rest when files are unreadable or unpaired (listed); default: stop naming them')
    .option('--batch-size <n>', 'images per forward pass (default: 8)', int(1))
    .option('--chunk-size <n>', 'images decoded at a time (default: 16)', int(1))
    .addOption(backendOption())
    .option('--threads <n>', 'wasm backend threads (default: the backend decides)', int(1))
    .option('--json', 'print the result as JSON')
    .action(async (flags: EvaluateFlags) => {
      const { folder, emptyThreshold } = await modelsOf(flags)
      if (flags.json !== true && (flags as { quiet?: boolean }).quiet !== true) process.stderr.write(describeModelSet(folder, emptyThreshold))
      await startPredictBackend(flags.backend, flags.threads)
      const r = await interruptible(
        (signal) =>
          evaluateRun(folder, {
            emptyThreshold,
            data: flags.data,
            threshold: flags.threshold ?? 'auto',
            tta: flags.tta ?? [],
            ...(flags.minArea !== undefined ? { minArea: flags.minArea } : {}),
            fillHoles: flags.fillHoles === true,
            ...(flags.perImage !== undefined ? { perImage: flags.perImage } : {}),
            ...(flags.maskThreshold !== undefined ? { maskThreshold: flags.maskThreshold } : {}),
            skipBad: flags.skipBad === true,
            ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
            ...(flags.chunkSize !== undefined ? { chunkSize: flags.chunkSize } : {}),
            signal,
          }),
        () => process.stderr.write('\ninterrupted: stopping (Ctrl-C again to quit now)\n'),
      )
      if (flags.json === true) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n')
        return
      }
      process.stderr.write(describeSkipped(r.skipped, 'were not scored'))
      process.stdout.write(formatEvaluation(r) + '\n')
      if (flags.perImage !== undefined) process.stdout.write(`per-image scores (worst first): ${flags.perImage}\n`)
    })
}
