import type { Command } from 'commander'
import { Option } from 'commander'
import { shardFromEnv, type Shard, type TtaView } from '@unet/predict'
import { predictRun } from '@unet/predict/node'
import { describeSkipped, interruptible, shardArg, startPredictBackend, ttaArg, ttaHelp, emptyThresholdArg, emptyThresholdHelp, modelSetHelp, modelsOf, snapshotsHelp, describeModelSet } from './shared'
import { backendOption, int, num, threshold } from './options'

interface PredictFlags {
  model?: string
  snapshots?: boolean
  emptyThreshold?: number | 'none'
  data?: string
  images?: string
  out?: string
  masksOut?: string
  probabilities?: string
  overlaysOut?: string
  cropsOut?: string
  boxes?: string
  threshold?: 'auto' | number
  cropThreshold?: number
  tta?: TtaView[]
  minArea?: number
  fillHoles?: boolean
  rleOrder?: 'row' | 'column'
  idColumn?: string
  shard?: Shard
  batchSize?: number
  chunkSize?: number
  skipUnreadable?: boolean
  backend?: string
  threads?: number
  quiet?: boolean
  json?: boolean
}

/**
 * Adds `unet predict`: any dataset or folder of images → submission, masks, probabilities, overlays, cut-outs,
 * boxes; TTA views, post-processing, shards (Kubernetes Indexed Jobs).
 *
 * @param program - the `unet` program
 * @returns the command
 */
export function addPredictCommand(program: Command): Command {
  return program
    .command('predict')
    .description("Predict a dataset or a folder of images with a run's model: submission, masks, probabilities, overlays, cut-outs, boxes.")
    .option('--model <dir>', modelSetHelp)
    .option('--snapshots', snapshotsHelp)
    .option('--empty-threshold <p|none>', emptyThresholdHelp, emptyThresholdArg)
    .option('--data <dir>', 'a dataset (TGS, Carvana or folders layout, folder or zip): its test images, or all its images when it has no test set')
    .option('--images <dir>', 'a plain folder of images (any format and size, grey or RGB)')
    .option('--out <file>', "submission CSV in the dataset's convention (run.json's rle); .gz is gzipped; - is standard output")
    .option('--masks-out <dir>', "0/255 mask PNGs at each image's own size, named after the image")
    .option('--probabilities <dir>', '8-bit probability PNGs')
    .option('--overlays-out <dir>', 'the images with their masks drawn over them (PNG)')
    .option('--crops-out <dir>', 'the object cut out on white, cropped to the union of its components\' boxes (PNG)')
    .option('--boxes <file>', 'JSON lines: per image, its connected components with area and bounding box')
    .option('--threshold <auto|x>', "mask threshold; auto = the run's chosen one (default: auto)", threshold)
    .option('--crop-threshold <x>', 'threshold of the cut-outs (default: 0.25)', num((n) => n >= 0 && n < 1, 'a probability in [0, 1)'))
    .option('--tta <views>', ttaHelp, ttaArg)
    .option('--min-area <n>', 'remove connected components smaller than n pixels (default: 0)', int(0))
    .option('--fill-holes', 'fill holes in the masks')
    .addOption(new Option('--rle-order <order>', "submission pixel order (default: the run's)").choices(['row', 'column']))
    .option('--id-column <name>', "submission id column (default: the run's, e.g. id or img)")
    .option('--shard <i/n>', 'predict shard i (0-based) of n, split stably by id, into part files X.part-i-of-n.csv.gz (default: from JOB_COMPLETION_INDEX and JOB_COMPLETIONS)', shardArg)
    .option('--batch-size <n>', 'images per forward pass (default: 8)', int(1))
    .option('--chunk-size <n>', 'images decoded at a time; memory grows with it (default: 16)', int(1))
    .option('--skip-unreadable', 'skip (and list) images that cannot be read; default: stop before writing anything')
    .addOption(backendOption())
    .option('--threads <n>', 'wasm backend threads (default: the backend decides)', int(1))
    .option('--quiet', 'print only the final line')
    .option('--json', 'print the result as JSON')
    .action(async (flags: PredictFlags) => {
      const shard = flags.shard ?? shardFromEnv(process.env)
      const { folder, emptyThreshold } = await modelsOf(flags)
      if (flags.json !== true && (flags as { quiet?: boolean }).quiet !== true) process.stderr.write(describeModelSet(folder, emptyThreshold))
      await startPredictBackend(flags.backend, flags.threads)
      // progress and summaries go to stderr when the submission itself goes to standard output
      const say = flags.out === '-' ? process.stderr : process.stdout
      const progress = flags.quiet !== true && flags.json !== true && process.stderr.isTTY === true
      const started = performance.now()
      const r = await interruptible(
        (signal) =>
          predictRun(folder, {
            emptyThreshold,
            ...(flags.data !== undefined ? { data: flags.data } : {}),
            ...(flags.images !== undefined ? { images: flags.images } : {}),
            ...(flags.out !== undefined ? { out: flags.out } : {}),
            ...(flags.masksOut !== undefined ? { masksOut: flags.masksOut } : {}),
            ...(flags.probabilities !== undefined ? { probabilities: flags.probabilities } : {}),
            ...(flags.overlaysOut !== undefined ? { overlaysOut: flags.overlaysOut } : {}),
            ...(flags.cropsOut !== undefined ? { cropsOut: flags.cropsOut } : {}),
            ...(flags.boxes !== undefined ? { boxes: flags.boxes } : {}),
            threshold: flags.threshold ?? 'auto',
            ...(flags.cropThreshold !== undefined ? { cropThreshold: flags.cropThreshold } : {}),
            tta: flags.tta ?? [],
            ...(flags.minArea !== undefined ? { minArea: flags.minArea } : {}),
            fillHoles: flags.fillHoles === true,
            ...(flags.rleOrder !== undefined ? { rleOrder: flags.rleOrder } : {}),
            ...(flags.idColumn !== undefined ? { idColumn: flags.idColumn } : {}),
            shard,
            ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
            ...(flags.chunkSize !== undefined ? { chunkSize: flags.chunkSize } : {}),
            skipUnreadable: flags.skipUnreadable === true,
            signal,
            ...(progress
              ? {
                  onProgress: (done: number, total: number) => {
                    const rate = done / Math.max(1e-3, (performance.now() - started) / 1000)
                    process.stderr.write(`\rpredicted ${done}/${total} images (${rate.toFixed(1)} images/s)`)
                  },
                }
              : {}),
          }),
        () => process.stderr.write('\ninterrupted: stopping; nothing will be written (Ctrl-C again to quit now)\n'),
      )
      if (progress) process.stderr.write('\n')
      if (flags.json === true) {
        say.write(JSON.stringify(r, null, 2) + '\n')
        return
      }
      if (flags.quiet !== true) {
        for (const note of r.notes) process.stderr.write(`note: ${note}\n`)
        process.stderr.write(describeSkipped(r.skipped, 'skipped'))
      }
      const seconds = (performance.now() - started) / 1000
      const w = r.written
      const parts = [
        w.submission !== undefined ? `${w.submission} (${w.rows} rows)` : '',
        w.boxes !== undefined ? `${w.boxes}` : '',
        w.masks !== undefined ? `${w.masks} masks` : '',
        w.probabilities !== undefined ? `${w.probabilities} probability maps` : '',
        w.overlays !== undefined ? `${w.overlays} overlays` : '',
        w.crops !== undefined ? `${w.crops} cut-outs${r.noCrop > 0 ? ` (${r.noCrop} images without an object have none)` : ''}` : '',
      ].filter(Boolean)
      say.write(
        `predicted ${r.images} images${r.shard ? ` (shard ${r.shard.index}/${r.shard.count})` : ''} of ${r.source} in ${seconds.toFixed(1)} s, ${r.nonEmpty} with an object, threshold ${r.threshold.toFixed(2)}${r.skipped.length > 0 ? `, ${r.skipped.length} skipped` : ''}; wrote ${parts.join(', ')}\n`,
      )
    })
}
