import type { Command } from 'commander'
import { join, resolve } from 'node:path'
import type { TtaView } from '@unet/predict'
import { findCheckpoint } from '@unet/train'
import { startBackend } from '../backend'
import { TrainerError } from '../errors'
import { PSEUDO_LABEL_DEFAULTS, selectPseudoLabels, sourceConfig } from '../pseudo-label'
import { num } from './options'
import { emptyThresholdArg, emptyThresholdHelp, snapshotsHelp, ttaArg, ttaHelp } from './shared'
import { addTrainOptions, trainConfigFromFlags, trainWithSignals } from './train'

const probability = num((n) => n >= 0 && n <= 1, 'a probability in [0, 1]')

/**
 * Adds `unet pseudo-label --model RUN_OR_KFOLD_DIR --test DIR --out NEWRUN [train flags]`: predicts the test images
 * (models averaged, with TTA), keeps those whose every pixel is confidently background or foreground, and trains a
 * new run on the train images plus those (their masks: the probabilities above 0.5). The ids added are recorded in
 * NEWRUN/pseudo-labels.json. Running it again on the same NEWRUN resumes that round with the same images.
 *
 * @param program - the `unet` program
 */
export function addPseudoLabelCommand(program: Command): void {
  addTrainOptions(
    program
      .command('pseudo-label')
      .description(
        'Add confidently predicted test images to training for another round: predict --test with --model (a run or k-fold folder, averaged, with TTA), keep images whose every pixel is below --confident-below or above --confident-above, and train NEWRUN on train + those. Training starts from the source run\'s config; train flags override it.',
      )
      .requiredOption('--model <dir>', 'the run or k-fold folder that predicts the test images')
      .requiredOption('--test <dir>', 'folder of test images to pseudo-label (e.g. DATA/test/images)')
      .option('--confident-below <p>', `a pixel below this is confident background (default: ${PSEUDO_LABEL_DEFAULTS.confidentBelow})`, probability)
      .option('--confident-above <p>', `a pixel above this is confident foreground (default: ${PSEUDO_LABEL_DEFAULTS.confidentAbove})`, probability)
      .option('--tta <views>', `${ttaHelp.replace(/\(default: none\)$/, '')}(default: hflip)`, ttaArg)
      .option('--snapshots', snapshotsHelp)
      .option('--empty-threshold <p|none>', emptyThresholdHelp, emptyThresholdArg),
    { legacyModelFlag: false },
  ).action(async (opts: Record<string, unknown>) => {
    const source = opts.model as string
    const test = opts.test as string
    if (opts.out === undefined) throw new TrainerError('BAD_FLAG', 'unet pseudo-label needs --out NEWRUN (the new run folder)')
    const flags = { ...opts }
    for (const k of ['model', 'test', 'confidentBelow', 'confidentAbove', 'tta', 'snapshots', 'emptyThreshold']) delete flags[k]
    const { config, explicitKeys } = await trainConfigFromFlags(flags, { base: await sourceConfig(source) })
    const runDir = resolve(config.out)
    await startBackend(config)
    const resume = findCheckpoint(join(runDir, 'checkpoints'), 'last') !== null
    const record = await selectPseudoLabels({
      model: source,
      test,
      runDir,
      tta: (opts.tta as TtaView[] | undefined) ?? ['hflip'],
      snapshots: opts.snapshots === true,
      emptyThreshold: opts.emptyThreshold === undefined ? 'auto' : opts.emptyThreshold === 'none' ? null : (opts.emptyThreshold as number),
      ...(opts.confidentBelow !== undefined ? { confidentBelow: opts.confidentBelow as number } : {}),
      ...(opts.confidentAbove !== undefined ? { confidentAbove: opts.confidentAbove as number } : {}),
    })
    process.stderr.write(
      `unet pseudo-label: ${record.ids.length} of ${record.predicted} test images are confident (every pixel < ${record.confidentBelow} or > ${record.confidentAbove}); ${resume ? 'resuming' : 'training'} ${config.out} on train + those (ids in ${join(config.out, 'pseudo-labels.json')})\n`,
    )
    if (record.ids.length === 0) process.stderr.write('unet pseudo-label: note: no test image was confident; this round trains on the train images alone\n')
    const withPseudo = { ...config, pseudoLabels: record.ids.length > 0 ? join(runDir, record.folder) : null }
    await trainWithSignals(withPseudo, { resume, explicitKeys: resume ? explicitKeys : [...explicitKeys, 'pseudoLabels'], quiet: opts.quiet === true, json: opts.json === true })
  })
}
