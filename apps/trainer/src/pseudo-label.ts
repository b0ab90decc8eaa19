import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { encodePng } from '@unet/data'
import { ensureFolder, writeFileAtomic } from '@unet/files'
import { binarize, maskBytes, toBytes, type TtaView } from '@unet/predict'
import { KFOLD_FILE, loadRunModels, predictRun, readModelSet, toModelChannels } from '@unet/predict/node'
import type { TrainConfig } from './config'
import { TrainerError } from './errors'

/** The default confidence band of `unet pseudo-label`: an image is kept when every pixel is below 0.2 or above 0.8. */
export const PSEUDO_LABEL_DEFAULTS = Object.freeze({ confidentBelow: 0.2, confidentAbove: 0.8, maskThreshold: 0.5 })

/**
 * Whether a predicted image is confident enough to train on: every pixel's probability is below `below` or above
 * `above` (none in between).
 *
 * @param probabilities - one image's probabilities
 * @param below - a pixel under this is confidently background
 * @param above - a pixel over this is confidently foreground
 * @returns true when no pixel lies in [below, above]
 * @example
 * ```ts
 * isConfident(new Float32Array([0.05, 0.95]), 0.2, 0.8) // true
 * isConfident(new Float32Array([0.05, 0.5]), 0.2, 0.8) // false
 * ```
 */
export function isConfident(probabilities: ArrayLike<number>, below: number, above: number): boolean {
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i] as number
    if (!(p < below || p > above)) return false
  }
  return true
}

/** `NEWRUN/pseudo-labels.json`: what `unet pseudo-label` added to the new run's training set. */
export interface PseudoLabelRecord {
  readonly format: 'unet-pseudo-labels'
  readonly version: 1
  /** The run or k-fold folder that predicted them. */
  readonly model: string
  readonly snapshots: boolean
  /** The test images predicted. */
  readonly test: string
  readonly tta: readonly TtaView[]
  readonly confidentBelow: number
  readonly confidentAbove: number
  /** Pseudo masks are the averaged probabilities above this. */
  readonly maskThreshold: number
  /** Test images predicted. */
  readonly predicted: number
  /** The ids of the test images added (their image and pseudo mask are in `folder`/images and /masks). */
  readonly ids: readonly string[]
  /** The folder of image / mask PNG pairs, relative to the run (the config's `pseudoLabels`). */
  readonly folder: string
}

/** The pseudo-label files of a new run. */
export const PSEUDO_LABEL_FILE = 'pseudo-labels.json'
export const PSEUDO_LABEL_FOLDER = 'pseudo'

/**
 * Predicts test images with a run or a k-fold folder (models averaged, TTA views applied to each), keeps the confident
 * ones ({@link isConfident}) and writes them with their pseudo masks (the probabilities above 0.5) into
 * `runDir/pseudo/{images,masks}/<id>.png`, and the record into `runDir/pseudo-labels.json`. A run that already has a
 * record keeps it (so a resumed round trains on the same images).
 *
 * @param options - source models, test images, band, TTA, the new run's folder
 * @returns the record
 * @throws {TrainerError} `BAD_FLAG` for a band that is not below < above in [0, 1]
 * @example
 * ```ts
 * const record = await selectPseudoLabels({ model: 'cv', test: 'data/test/images', runDir: 'runs/round2', tta: ['hflip'] })
 * ```
 */
export async function selectPseudoLabels(options: {
  model: string
  test: string
  runDir: string
  tta?: readonly TtaView[]
  snapshots?: boolean
  emptyThreshold?: 'auto' | number | null
  confidentBelow?: number
  confidentAbove?: number
  batchSize?: number
}): Promise<PseudoLabelRecord> {
  const runDir = resolve(options.runDir)
  const recordFile = join(runDir, PSEUDO_LABEL_FILE)
  if (existsSync(recordFile)) return JSON.parse(await readFile(recordFile, 'utf8')) as PseudoLabelRecord
  const below = options.confidentBelow ?? PSEUDO_LABEL_DEFAULTS.confidentBelow
  const above = options.confidentAbove ?? PSEUDO_LABEL_DEFAULTS.confidentAbove
  if (!(below >= 0 && below <= above && above <= 1)) {
    throw new TrainerError('BAD_FLAG', `--confident-below ${below} and --confident-above ${above} must satisfy 0 ≤ below ≤ above ≤ 1`)
  }
  const set = await readModelSet(options.model, { snapshots: options.snapshots === true })
  const models = await loadRunModels(set)
  const folder = join(runDir, PSEUDO_LABEL_FOLDER)
  // a crash mid-way leaves no record: start the folder afresh
  await rm(folder, { recursive: true, force: true })
  await ensureFolder(join(folder, 'images'))
  await ensureFolder(join(folder, 'masks'))
  const ids: string[] = []
  let predicted = 0
  try {
    await predictRun(set, {
      images: options.test,
      tta: options.tta ?? [],
      model: models,
      emptyThreshold: options.emptyThreshold ?? 'auto',
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      onPrediction: async ({ image, probabilities }) => {
        predicted++
        if (!isConfident(probabilities, below, above)) return
        const size = { width: image.width, height: image.height }
        // in the model's channels (TGS's 3-channel PNGs are grey), as the train images are read
        const channels = set.run.input.channels
        await writeFileAtomic(join(folder, 'images', `${image.id}.png`), encodePng(toBytes(toModelChannels(image, channels, image.id)), { ...size, channels }))
        await writeFileAtomic(join(folder, 'masks', `${image.id}.png`), encodePng(maskBytes(binarize(probabilities, PSEUDO_LABEL_DEFAULTS.maskThreshold)), { ...size, channels: 1 }))
        ids.push(image.id)
      },
    })
  } finally {
    for (const m of models) m.dispose()
  }
  const record: PseudoLabelRecord = {
    format: 'unet-pseudo-labels',
    version: 1,
    model: set.dir,
    snapshots: options.snapshots === true,
    test: resolve(options.test),
    tta: [...(options.tta ?? [])],
    confidentBelow: below,
    confidentAbove: above,
    maskThreshold: PSEUDO_LABEL_DEFAULTS.maskThreshold,
    predicted,
    ids,
    folder: PSEUDO_LABEL_FOLDER,
  }
  await writeFileAtomic(recordFile, JSON.stringify(record, null, 2) + '\n')
  return record
}

/**
 * The training config of the source run (a run's config.json, or a k-fold folder's recorded config), as the base of
 * the next round: its data, model and recipe, without its folder, fold and earlier pseudo labels.
 *
 * @param model - the run or k-fold folder
 * @returns the config layer, or an empty one when the folder has no config
 * @example
 * ```ts
 * const base = await sourceConfig('runs/a')
 * ```
 */
export async function sourceConfig(model: string): Promise<Partial<TrainConfig>> {
  const kfold = join(model, KFOLD_FILE)
  let config: Partial<TrainConfig> | undefined
  if (existsSync(kfold)) config = (JSON.parse(await readFile(kfold, 'utf8')) as { config?: Partial<TrainConfig> }).config
  else if (existsSync(join(model, 'config.json'))) config = JSON.parse(await readFile(join(model, 'config.json'), 'utf8')) as Partial<TrainConfig>
  if (!config) return {}
  const { out: _out, folds: _folds, fold: _fold, pseudoLabels: _pseudo, channels: _channels, ...rest } = config
  return rest
}
