import { resolve } from 'node:path'
import {
  coverageClass,
  createAugmentation,
  createBatcher,
  createSampleLoader,
  DataError,
  detectLayout,
  groupedKFold,
  groupedSplit,
  mapLimit,
  maskCoverage,
  openDataset,
  prepareImage,
  readDataset,
  prepareMask,
  restoreProbabilities,
  stratifiedKFold,
  stratifiedSplit,
  type Augmentation,
  type Batcher,
  type Dataset,
  type PrepareSpec,
  type Sample,
  type SampleEntry,
} from '@unet/data'
import { join } from 'node:path'
import { generateSyntheticTgs, readTgsDataset } from '@unet/data-tgs'
import type { Batch, FitData, ValidationBatch, ValidationData } from '@unet/train'
import { parseAugmentation, type TrainConfig } from './config'
import { TrainerError } from './errors'

/** A labelled image at its own size, whatever the layout it came from. */
export interface RunSample {
  id: string
  /** `height × width × channels`, [0, 1], channels interleaved. */
  image: Float32Array
  /** `height × width` 0/1 (absent for test images). */
  mask?: Uint8Array
  height: number
  width: number
  /** 1 (grey) or 3 (RGB); default 1. */
  channels?: number
  /** TGS coverage class 0…10 (computed from the mask when absent). */
  coverageClass?: number
  /** What a grouped split keeps together (Carvana: the car). */
  group?: string
}

/** A file the reader could not use, and why. */
export interface SkippedFile {
  code: string
  id?: string
  file?: string
  message: string
}

/** One image at its own size with its mask, as the report and the learning strip show it. */
export interface OriginalSample {
  id: string
  /** `height × width × channels`, [0, 1]. */
  image: Float32Array
  /** `height × width`, 0/1. */
  mask: Uint8Array
  height: number
  width: number
  channels: number
}

/**
 * A train or validation set as the run sees it, held in memory ({@link PreparedSet}: TGS and synthetic data,
 * small) or streamed from disk ({@link StreamedSet}: Carvana and folder pairs, decoded on demand).
 */
export interface RunSet {
  /** Image ids, in order. */
  ids: string[]
  /** Number of images. */
  count: number
  /** Model input width (also the side of square inputs; `width` and `height` say both). */
  size: number
  /** Model input width. */
  width: number
  /** Model input height. */
  height: number
  /** Channels per image. */
  channels: number
  /** Coverage class (0…10) of each mask (empty for test sets). */
  coverageClasses: number[]
  /**
   * Images `indices` at their own size with their masks (decoded now when streamed).
   *
   * @param indices - positions in the set
   * @returns the images, in that order
   */
  originals(indices: readonly number[]): Promise<OriginalSample[]>
  /**
   * Images `indices` at model size, `n × height × width × channels`.
   *
   * @param indices - positions in the set
   * @returns the inputs, in that order
   */
  inputs(indices: readonly number[]): Promise<Float32Array>
}

/** A set streamed from disk: listed, its masks' coverage known, its pixels decoded only when a batch needs them. */
export interface StreamedSet extends RunSet {
  readonly streamed: {
    /** Decodes one sample (the listed dataset's `load`, counted). */
    source: Pick<Dataset, 'load'>
    /** The set's samples, in order. */
    entries: SampleEntry[]
    /** Photos decoded so far, for batches, validation and the report (the up-front mask pass decodes none). */
    readonly decoded: number
  }
}

/** Images at model size, ready to batch, all in memory. */
export interface PreparedSet extends RunSet {
  /** All images, `count × height × width × channels`, [0, 1]. */
  images: Float32Array
  /** All masks at model size, `count × height × width`, 0/1 (empty for test sets). */
  masks: Float32Array
  /** Original images at their own size, channels interleaved (the report shows these). */
  originalImages: Float32Array[]
  /** Channels of the original images. */
  originalChannels: number[]
  /** Original masks (0/1) at their own size, for scoring (empty for test sets). */
  originalMasks: Uint8Array[]
  /** Original height and width of each image. */
  shapes: { height: number; width: number }[]
}

/** The data a run uses: its train and validation sets, and the raw test images. */
export interface RunData {
  train: RunSet
  validation: RunSet
  test: { id: string; image: Float32Array; height: number; width: number }[]
  /** Where it came from, for the report. */
  source: string
  /** The layout it was read as. */
  layout?: 'tgs' | 'carvana' | 'folders' | 'synthetic'
  /** Files the reader could not use (corrupt, unpaired, wrong size), with the problem. */
  skipped?: SkippedFile[]
  /** Releases what streamed sets hold open (zips); a no-op in memory. */
  close?(): Promise<void>
}

/** Whether a set streams from disk. */
export function isStreamed(set: RunSet): set is StreamedSet {
  return (set as Partial<StreamedSet>).streamed !== undefined
}

/** Whether a set is held in memory. */
export function isPrepared(set: RunSet): set is PreparedSet {
  return (set as Partial<PreparedSet>).images !== undefined
}

/**
 * The model size and how images get there, as @unet/data's `prepareImage` and run.json's `prepare` take it.
 *
 * @param config - image size and resize mode
 * @returns the spec
 * @example
 * ```ts
 * prepareSpec(resolveTrainConfig({ imageSize: 384, imageHeight: 192 })) // { width: 384, height: 192, mode: 'resize', … }
 * ```
 */
export function prepareSpec(config: Pick<TrainConfig, 'imageSize' | 'imageHeight' | 'resize'>): PrepareSpec {
  return { width: config.imageSize, height: config.imageHeight ?? config.imageSize, mode: config.resize, pad: 'reflect', interpolation: 'bilinear' }
}

/**
 * Loads the run's data — a dataset folder or zip (TGS, Carvana or folder pairs, detected), folder pairs given by
 * `images`/`masks`, or the synthetic set generated in memory from the seed — and splits it the same way every time
 * for a given config, so evaluate/predict/resume see the very split training saw. Carvana and folder pairs stream
 * (sets of listed photos, decoded on demand; call `close()` when done), TGS and synthetic data are held in memory.
 *
 * @param config - the run's config
 * @param channels - channels the model takes (grey images are repeated to fill them)
 * @returns the sets (streamed or in memory)
 * @example
 * ```ts
 * const data = await loadRunData(resolveTrainConfig({ synthTrain: 40 }), 1)
 * ```
 */
export async function loadRunData(config: TrainConfig, channels: number | null): Promise<RunData> {
  const layout = await layoutOf(config)
  // photos stream from disk; TGS images (101×101 grey, 4,000 at most) are faster held in memory
  // (a round with pseudo-labels reads in memory: its extra images are folder pairs merged into the split)
  if ((layout === 'carvana' || layout === 'folders') && !config.pseudoLabels) return streamRunData(config, channels, layout)
  const { train, test, source, skipped } = await loadRawData(config, { test: false })
  const want = channels ?? Math.max(1, ...train.map((s) => s.channels ?? 1))
  const split = checkedSplit(train, config, source)
  if (config.pseudoLabels) split.train.push(...(await loadPseudoLabels(config.pseudoLabels, config)))
  const spec = prepareSpec(config)
  if (config.resize === 'pad') {
    const big = train.find((s) => s.width > spec.width || s.height > spec.height)
    if (big) throw new TrainerError('BAD_CONFIG', `--resize pad needs every image to fit the model size ${spec.width}×${spec.height}, but ${big.id} is ${big.width}×${big.height}; raise --image-size or use --resize resize|letterbox`)
  }
  return {
    train: prepareSet(split.train, config, want),
    validation: prepareSet(split.validation, config, want),
    test: test.map((t) => ({ id: t.id, image: t.image, height: t.height, width: t.width })),
    source,
    layout,
    skipped,
  }
}

/** Pseudo-labelled test images (`unet pseudo-label`: `images/` + `masks/` PNG pairs): train images, never validation. */
async function loadPseudoLabels(dir: string, config: TrainConfig): Promise<RunSample[]> {
  const read = await loadRawData({ data: null, seed: config.seed, synthTrain: config.synthTrain, synthTest: 0, images: join(dir, 'images'), masks: join(dir, 'masks') }, { test: false })
  if (read.skipped.length > 0) throw new TrainerError('BAD_DATA', `${read.skipped.length} pseudo-labelled file(s) in ${dir} cannot be used (first: ${read.skipped[0]!.file ?? read.skipped[0]!.id}: ${read.skipped[0]!.message}); run unet pseudo-label again`)
  return read.train.map((s) => ({ ...s, id: `pseudo:${s.id}` }))
}

/** What a split needs of a sample. */
type Splittable = Pick<RunSample, 'id' | 'coverageClass' | 'group'>

/** One listed sample of a streamed dataset: its entry and what the up-front mask pass found. */
interface Listed extends Splittable {
  entry: SampleEntry
  width: number
  height: number
  channels: number
  coverageClass: number
}

/**
 * The Carvana and folder-pair layouts, streamed: the dataset is listed, then one pass decodes each mask alone
 * (@unet/data's `loadMask`: coverage for the stratified split, sizes and channels, bad masks and size mismatches
 * found up front), keeping a few numbers per sample. Photos are decoded only when a batch needs them.
 */
async function streamRunData(config: TrainConfig, channels: number | null, layout: 'carvana' | 'folders'): Promise<RunData> {
  const where = config.images !== null ? `${config.images} + ${config.masks}` : (config.data as string)
  const path = config.images !== null ? commonParent(config.images, config.masks as string) : (config.data as string)
  let dataset: Dataset
  try {
    dataset = await openDataset(path, {
      layout,
      test: false,
      onBadFile: 'skip',
      ...(config.images !== null ? { images: relativeTo(path, config.images), masks: relativeTo(path, config.masks as string) } : {}),
      ...(config.maskSuffix !== '' ? { maskName: `{stem}${config.maskSuffix}` } : {}),
      ...(config.maskThreshold !== null ? { maskThreshold: config.maskThreshold } : {}),
    })
  } catch (cause) {
    throw new TrainerError('NO_DATA', `cannot read the dataset at ${where}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
  try {
    const skipped: SkippedFile[] = dataset.report.skipped.map((p) => ({ code: p.code, ...(p.id !== undefined ? { id: p.id } : {}), file: p.file, message: p.reason }))
    const found = await mapLimit(dataset.train, 4, async (entry): Promise<Listed | null> => {
      try {
        const m = await dataset.loadMask(entry)
        return { id: entry.id, entry, width: m.width, height: m.height, channels: m.channels, coverageClass: coverageClass(maskCoverage(m.mask)), ...(entry.group !== undefined ? { group: entry.group } : {}) }
      } catch (e) {
        if (!(e instanceof DataError) || e.file === undefined) throw e
        skipped.push({ code: e.code, id: entry.id, file: e.file, message: e.message })
        return null
      }
    })
    const listed = found.filter((l): l is Listed => l !== null)
    const { train, validation } = checkedSplit(listed, config, where)
    const spec = prepareSpec(config)
    if (config.resize === 'pad') {
      const big = listed.find((s) => s.width > spec.width || s.height > spec.height)
      if (big) throw new TrainerError('BAD_CONFIG', `--resize pad needs every image to fit the model size ${spec.width}×${spec.height}, but ${big.id} is ${big.width}×${big.height}; raise --image-size or use --resize resize|letterbox`)
    }
    const want = channels ?? Math.max(1, ...listed.map((s) => s.channels))
    const rgb = listed.find((s) => s.channels > want)
    if (rgb) fitChannels(new Float32Array(0), rgb.channels, want, rgb.id)
    return {
      train: streamedSet(dataset, train, config, want),
      validation: streamedSet(dataset, validation, config, want),
      test: [],
      source: where,
      layout,
      skipped,
      close: () => dataset.close(),
    }
  } catch (cause) {
    await dataset.close()
    if (cause instanceof TrainerError) throw cause
    throw new TrainerError('NO_DATA', `cannot read the dataset at ${where}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}

/** The split, refused when either side would be empty. */
function checkedSplit<S extends Splittable>(samples: S[], config: TrainConfig, source: string): { train: S[]; validation: S[] } {
  if (samples.length < 2) {
    throw new TrainerError('NO_DATA', `${source} has ${samples.length} usable train image(s); at least 2 are needed to hold some out for validation`)
  }
  const split = splitSamples(samples, config)
  if (split.validation.length === 0 || split.train.length === 0) {
    throw new TrainerError('NO_DATA', `split of ${samples.length} images left ${split.train.length} for training and ${split.validation.length} for validation; use more images or change --val-split`)
  }
  return split
}

/** A set over listed entries: pixels decoded on demand, prepared with the prediction maths. */
function streamedSet(dataset: Dataset, listed: Listed[], config: TrainConfig, channels: number): StreamedSet {
  const spec = prepareSpec(config)
  let decoded = 0
  const source: Pick<Dataset, 'load'> = {
    load(entry, options) {
      decoded++
      return dataset.load(entry, options)
    },
  }
  const load = (i: number): Promise<Sample> => {
    const l = listed[i]
    if (l === undefined) throw new TrainerError('BAD_DATA', `image ${i} is outside the set of ${listed.length}`)
    return source.load(l.entry)
  }
  const toModel = (s: Sample): Float32Array => fitChannels(prepareImage(s.image, s, spec), s.channels, channels, s.id)
  return {
    ids: listed.map((l) => l.id),
    count: listed.length,
    size: spec.width,
    width: spec.width,
    height: spec.height,
    channels,
    coverageClasses: listed.map((l) => l.coverageClass),
    async originals(indices) {
      return (await mapLimit(indices, 4, load)).map((s) => ({ id: s.id, image: s.image, mask: s.mask, width: s.width, height: s.height, channels: s.channels }))
    },
    async inputs(indices) {
      const plane = spec.width * spec.height * channels
      const out = new Float32Array(indices.length * plane)
      ;(await mapLimit(indices, 4, load)).forEach((s, k) => out.set(toModel(s), k * plane))
      return out
    },
    streamed: {
      source,
      entries: listed.map((l) => l.entry),
      get decoded() {
        return decoded
      },
    },
  }
}

function splitSamples<S extends Splittable>(samples: S[], config: TrainConfig): { train: S[]; validation: S[] } {
  const stratifyBy = (s: S): number => s.coverageClass ?? 0
  if (config.groupBy !== null) {
    const re = config.groupBy === 'carvana' ? null : new RegExp(config.groupBy)
    const groupBy = (s: S): string => {
      if (!re) return s.group ?? s.id.replace(/_\d+$/, '')
      const m = re.exec(s.id)
      return m ? (m[1] ?? m[0]) : s.id
    }
    if (config.folds !== null) {
      const f = groupedKFold(samples, { folds: config.folds, seed: config.seed, groupBy })[config.fold]
      if (!f) throw new TrainerError('BAD_CONFIG', `--fold ${config.fold} does not exist for --folds ${config.folds}`)
      return f
    }
    return groupedSplit(samples, { validationFraction: config.valSplit, seed: config.seed, groupBy })
  }
  if (config.folds !== null) {
    const f = stratifiedKFold(samples, { folds: config.folds, seed: config.seed, stratifyBy })[config.fold]
    if (!f) throw new TrainerError('BAD_CONFIG', `--fold ${config.fold} does not exist for --folds ${config.folds}`)
    return f
  }
  return stratifiedSplit(samples, { validationFraction: config.valSplit, seed: config.seed, stratifyBy })
}

/** The layout a config's data is read as. */
export async function layoutOf(config: Pick<TrainConfig, 'data' | 'layout' | 'images' | 'masks'>): Promise<'tgs' | 'carvana' | 'folders' | 'synthetic'> {
  if (config.images !== null) return 'folders'
  if (config.data === null) return 'synthetic'
  if (config.layout !== null) return config.layout
  try {
    return (await detectLayout(config.data)) as 'tgs' | 'carvana' | 'folders'
  } catch (cause) {
    throw new TrainerError('NO_DATA', `cannot read the dataset at ${config.data}: ${(cause as Error).message}`, { cause })
  }
}

/**
 * Reads the raw samples behind a config into memory: TGS through @unet/data-tgs (depths, coverage classes), Carvana
 * and folder pairs through @unet/data (every photo decoded: for small sets such as pseudo-labels; `loadRunData`
 * streams those layouts instead), or the synthetic set. Unusable files never vanish silently: they are returned in
 * `skipped` (a missing depth is not one: depth is optional for training).
 *
 * @param config - which data and which seed
 * @param options - `test: false` skips the test images
 * @returns raw train samples, test images, the source, the skipped files and the layout
 * @example
 * ```ts
 * const raw = await loadRawData(resolveTrainConfig({ synthTrain: 20 }))
 * ```
 */
export async function loadRawData(
  config: Pick<TrainConfig, 'data' | 'seed' | 'synthTrain' | 'synthTest'> & Partial<Pick<TrainConfig, 'layout' | 'images' | 'masks' | 'maskSuffix' | 'maskThreshold'>>,
  options: { test?: boolean; train?: boolean } = {},
): Promise<{
  train: RunSample[]
  test: { id: string; image: Float32Array; height: number; width: number }[]
  source: string
  skipped: SkippedFile[]
  layout: 'tgs' | 'carvana' | 'folders' | 'synthetic'
}> {
  const full = { layout: null, images: null, masks: null, maskSuffix: '', maskThreshold: null, ...config }
  const layout = await layoutOf(full)
  if (layout === 'synthetic') {
    const ds = generateSyntheticTgs({
      trainCount: options.train === false ? 0 : config.synthTrain,
      testCount: options.test === false ? 0 : config.synthTest,
      seed: config.seed,
    })
    return { train: ds.train, test: ds.test, source: `synthetic (${config.synthTrain} train, ${config.synthTest} test, seed ${config.seed})`, skipped: [], layout }
  }
  const where = full.images !== null ? `${full.images} + ${full.masks}` : (config.data as string)
  try {
    if (layout === 'tgs') {
      // read everything and list the bad files: the trainer stops on them (naming them) unless --skip-bad
      const ds = await readTgsDataset(config.data as string, { test: options.test !== false, onInvalidFile: 'skip' })
      const skipped = ds.report.skipped.filter((p) => p.code !== 'MISSING_DEPTH').map((p) => ({ code: p.code, id: p.id, ...(p.file ? { file: p.file } : {}), message: p.message }))
      return { train: ds.train, test: ds.test, source: config.data as string, skipped, layout }
    }
    const path = full.images !== null ? commonParent(full.images, full.masks as string) : (config.data as string)
    const read = await readDataset(path, {
      layout,
      test: false,
      onBadFile: 'skip',
      ...(full.images !== null ? { images: relativeTo(path, full.images), masks: relativeTo(path, full.masks as string) } : {}),
      ...(full.maskSuffix !== '' ? { maskName: `{stem}${full.maskSuffix}` } : {}),
      ...(full.maskThreshold !== null ? { maskThreshold: full.maskThreshold } : {}),
    })
    await read.dataset.close()
    const train: RunSample[] = read.train.map((s) => ({
      id: s.id,
      image: s.image,
      mask: s.mask,
      height: s.height,
      width: s.width,
      channels: s.channels,
      coverageClass: coverageClass(maskCoverage(s.mask)),
      ...(s.group !== undefined ? { group: s.group } : {}),
    }))
    const skipped = read.report.skipped.map((p) => ({ code: p.code, ...(p.id !== undefined ? { id: p.id } : {}), file: p.file, message: p.reason }))
    return { train, test: [], source: where, skipped, layout }
  } catch (cause) {
    if (cause instanceof TrainerError) throw cause
    const msg = cause instanceof Error ? cause.message : String(cause)
    throw new TrainerError('NO_DATA', `cannot read the dataset at ${where}: ${msg}`, { cause })
  }
}

function commonParent(a: string, b: string): string {
  const pa = a.split(/[\\/]/)
  const pb = b.split(/[\\/]/)
  let i = 0
  while (i < pa.length - 1 && i < pb.length - 1 && pa[i] === pb[i]) i++
  return pa.slice(0, i).join('/') || '.'
}

function relativeTo(root: string, path: string): string {
  const r = root === '.' ? path : path.slice(root.length).replace(/^[\\/]+/, '')
  return r || '.'
}

/**
 * Converts samples to model size once, up front (validation and report; training batches are prepared per step).
 *
 * @param samples - samples (with masks) or test images (without)
 * @param config - image size and resize mode
 * @param channels - channels the model takes (grey images are repeated)
 * @returns the prepared set
 * @example
 * ```ts
 * const set = prepareSet(samples, config, 1)
 * ```
 */
export function prepareSet(
  samples: readonly RunSample[],
  config: Pick<TrainConfig, 'imageSize' | 'resize'> & Partial<Pick<TrainConfig, 'imageHeight'>>,
  channels: number,
): PreparedSet {
  const spec = prepareSpec({ imageSize: config.imageSize, resize: config.resize, imageHeight: config.imageHeight ?? null })
  const { width, height } = spec
  const plane = width * height
  const images = new Float32Array(samples.length * plane * channels)
  const hasMasks = samples.length > 0 && samples.every((s) => s.mask !== undefined)
  const masks = new Float32Array(hasMasks ? samples.length * plane : 0)
  samples.forEach((s, i) => {
    const own = s.channels ?? 1
    const img = fitChannels(prepareImage(s.image, { width: s.width, height: s.height, channels: own }, spec), own, channels, s.id)
    images.set(img, i * plane * channels)
    if (hasMasks && s.mask) {
      const m = prepareMask(s.mask, { width: s.width, height: s.height }, spec)
      for (let p = 0; p < plane; p++) masks[i * plane + p] = (m[p] as number) > 0 ? 1 : 0
    }
  })
  const pixels = plane * channels
  return {
    ids: samples.map((s) => s.id),
    count: samples.length,
    size: width,
    width,
    height,
    channels,
    images,
    masks,
    originalImages: samples.map((s) => s.image),
    originalChannels: samples.map((s) => s.channels ?? 1),
    originalMasks: hasMasks ? samples.map((s) => s.mask as Uint8Array) : [],
    shapes: samples.map((s) => ({ height: s.height, width: s.width })),
    coverageClasses: hasMasks ? samples.map((s) => s.coverageClass ?? coverageClass(maskCoverage(s.mask as Uint8Array))) : [],
    async originals(indices) {
      return indices.map((i) => {
        const s = samples[i] as RunSample
        return { id: s.id, image: s.image, mask: s.mask ?? new Uint8Array(s.width * s.height), width: s.width, height: s.height, channels: s.channels ?? 1 }
      })
    },
    async inputs(indices) {
      const out = new Float32Array(indices.length * pixels)
      indices.forEach((i, k) => out.set(images.subarray(i * pixels, (i + 1) * pixels), k * pixels))
      return out
    },
  }
}

/** Grey → the model's channels by repeating; RGB into a grey model is refused (run-format.md). */
function fitChannels(image: Float32Array, own: number, want: number, id: string): Float32Array {
  if (own === want) return image
  if (own === 1) {
    const n = image.length
    const out = new Float32Array(n * want)
    for (let p = 0; p < n; p++) for (let c = 0; c < want; c++) out[p * want + c] = image[p] as number
    return out
  }
  throw new TrainerError('BAD_DATA', `${id} has ${own} channels but the model takes ${want}; give images with ${want} channel(s) (RGB is not turned into grey)`)
}

/**
 * Maps a model-size probability map back to the image's own size (the exact inverse of the preparing).
 *
 * @param probs - `height × width` probabilities at model size
 * @param shape - the original height and width
 * @param config - image size and resize mode used for the model
 * @returns `height × width` probabilities at the original size
 * @example
 * ```ts
 * const p101 = toOriginalSize(p128, { height: 101, width: 101 }, config)
 * ```
 */
export function toOriginalSize(probs: Float32Array, shape: { height: number; width: number }, config: Pick<TrainConfig, 'imageSize' | 'resize'> & Partial<Pick<TrainConfig, 'imageHeight'>>): Float32Array {
  return restoreProbabilities(probs, shape, prepareSpec({ imageSize: config.imageSize, resize: config.resize, imageHeight: config.imageHeight ?? null }))
}

/**
 * The augmentation pipeline of a config (@unet/data's registry), or null for none.
 *
 * @param config - `augment`
 * @returns the composed augmentation
 * @example
 * ```ts
 * augmentationOf(resolveTrainConfig({ augment: ['horizontal_flip', 'rotate:limit=5:p=0.3'] }))
 * ```
 */
export function augmentationOf(config: Pick<TrainConfig, 'augment'>): Augmentation | null {
  if (config.augment.length === 0) return null
  return createAugmentation(config.augment.map((a) => parseAugmentation(a)) as never)
}

/**
 * The run's data as @unet/train's `fit` takes it: @unet/data's batcher over the train images at model size
 * (augmented per step; batch k of epoch e rebuilt alone from (seed, epoch, step)), plain shuffled
 * batches for batch-norm recalibration, and validation batches whose probabilities map back to each image's own size.
 * Streamed sets decode through @unet/data's sample loader (with `config.cacheDir`: resized copies kept there), the
 * next batch while the current one trains, so memory holds a few batches whatever the dataset's size.
 *
 * @param data - the run's data
 * @param config - batch size, seed, augmentation, image size and resize mode, cache folder
 * @returns train and validation sources
 * @example
 * ```ts
 * const result = await fit(model, fitData(data, config), options)
 * ```
 */
export function fitData(data: RunData, config: TrainConfig): FitData {
  const { train, validation } = data
  const spec = prepareSpec(config)
  const { width, height, channels } = train
  const augment = augmentationOf(config)
  const toBatch = (b: { xs: Float32Array; ys: Float32Array; shape: [number, number, number, number] }): Batch => {
    const own = b.shape[3]
    return { x: own === channels ? b.xs : fitChannels(b.xs, own, channels, 'a train batch'), y: b.ys, count: b.shape[0] }
  }
  let batcher: Batcher
  let plain: Batcher
  let batch: (epoch: number, step: number) => Promise<Batch>
  let recalibrationSteps = Infinity
  if (isStreamed(train)) {
    // the loader brings each photo to the model size as it is decoded, so the batcher augments there, as in memory
    const loader = createSampleLoader(train.streamed.source, train.streamed.entries, { prepare: spec, ...(config.cacheDir !== null ? { cache: resolve(config.cacheDir) } : {}) })
    batcher = createBatcher(loader, { prepare: spec, batchSize: config.batchSize, seed: config.seed, ...(augment ? { augment } : {}), prefetch: 0 })
    plain = createBatcher(loader, { prepare: spec, batchSize: config.batchSize, seed: config.seed ^ 0x9e37, prefetch: 1 })
    batch = lookahead((epoch, step) => batcher.batch(epoch, step).then(toBatch), batcher.batchesPerEpoch)
    // batch-norm statistics settle long before a pass over every photo: without a cache that pass would decode the
    // whole train set again each epoch
    recalibrationSteps = RECALIBRATION_STEPS
  } else if (isPrepared(train)) {
    // the train images were brought to the model size once (prepareSet); the batcher augments them there, so a step
    // costs no resampling (as fast as before @unet/data's batcher) and batch k of epoch e is still a pure function
    const pixelsPerImage = width * height * channels
    const samples = Array.from({ length: train.count }, (_, i) => ({
      id: train.ids[i] as string,
      image: train.images.subarray(i * pixelsPerImage, (i + 1) * pixelsPerImage),
      mask: Uint8Array.from(train.masks.subarray(i * width * height, (i + 1) * width * height)),
      width,
      height,
      channels,
    }))
    batcher = createBatcher(samples, { prepare: spec, batchSize: config.batchSize, seed: config.seed, ...(augment ? { augment } : {}), prefetch: 0 })
    plain = createBatcher(samples, { prepare: spec, batchSize: config.batchSize, seed: config.seed ^ 0x9e37, prefetch: 0 })
    batch = async (epoch, step) => toBatch(await batcher.batch(epoch, step))
  } else {
    throw new TrainerError('BAD_DATA', 'the train set is neither held in memory nor streamed; build it with loadRunData or prepareSet')
  }
  return {
    train: {
      count: train.count,
      inputShape: [height, width, channels],
      batch: (epoch, step) => batch(epoch, step),
      async *plainBatches(epoch) {
        let step = 0
        for await (const b of plain.epoch(epoch)) {
          yield toBatch(b)
          if (++step >= recalibrationSteps) return
        }
      },
    },
    validation: validationData(validation, spec),
  }
}

/** Streamed sets: batches of a shuffled epoch that batch-norm recalibration averages over (in memory: all). */
export const RECALIBRATION_STEPS = 64

/**
 * Batch `(epoch, step)` now, and the one after it started at once (decoded in sharp's threads while the caller
 * trains on this one): a function of (epoch, step) still, just earlier.
 */
function lookahead(batchAt: (epoch: number, step: number) => Promise<Batch>, stepsPerEpoch: number): (epoch: number, step: number) => Promise<Batch> {
  let ahead: { epoch: number; step: number; batch: Promise<Batch> } | null = null
  return (epoch, step) => {
    const now = ahead !== null && ahead.epoch === epoch && ahead.step === step ? ahead.batch : batchAt(epoch, step)
    const [e, k] = step + 1 < stepsPerEpoch ? [epoch, step + 1] : [epoch + 1, 0]
    const next = batchAt(e, k)
    next.catch(() => undefined) // seen when asked for; a run that stops here must not leave an unhandled rejection
    ahead = { epoch: e, step: k, batch: next }
    return now
  }
}

/**
 * The validation set as @unet/train's `fit` and `validate` take it: model-size batches in a fixed order, each with
 * its truths at the images' own sizes and the way back there. A streamed set decodes the next batch while this
 * one is predicted and keeps only the masks of the batch.
 *
 * @param data - the run's data
 * @param config - image size and resize mode
 * @returns the validation source
 * @example
 * ```ts
 * const v = await validate(model, validationSource(data, config), { batchSize: 16, logits: false })
 * ```
 */
export function validationSource(data: Pick<RunData, 'validation'>, config: Pick<TrainConfig, 'imageSize' | 'imageHeight' | 'resize'>): ValidationData {
  return validationData(data.validation, prepareSpec(config))
}

function validationData(set: RunSet, spec: PrepareSpec): ValidationData {
  const { width, height, channels } = set
  const plane = width * height
  const pixels = plane * channels
  if (isPrepared(set)) {
    return {
      count: set.count,
      *batches(batchSize): Generator<ValidationBatch> {
        for (let start = 0; start < set.count; start += batchSize) {
          const n = Math.min(batchSize, set.count - start)
          yield {
            x: set.images.subarray(start * pixels, (start + n) * pixels),
            y: set.masks.subarray(start * plane, (start + n) * plane),
            count: n,
            truths: set.originalMasks.slice(start, start + n),
            restore: (p, k) => restoreProbabilities(p, set.shapes[start + k] as { height: number; width: number }, spec),
          }
        }
      },
    }
  }
  if (!isStreamed(set)) throw new TrainerError('BAD_DATA', 'the validation set is neither held in memory nor streamed; build it with loadRunData or prepareSet')
  const { source, entries } = set.streamed
  const build = async (start: number, n: number): Promise<ValidationBatch> => {
    const samples = await mapLimit(entries.slice(start, start + n), 4, (e) => source.load(e))
    const x = new Float32Array(n * pixels)
    const y = new Float32Array(n * plane)
    samples.forEach((s, k) => {
      x.set(fitChannels(prepareImage(s.image, s, spec), s.channels, channels, s.id), k * pixels)
      const m = prepareMask(s.mask, s, spec)
      for (let p = 0; p < plane; p++) y[k * plane + p] = (m[p] as number) > 0 ? 1 : 0
    })
    // the photos go now; only the masks stay, as the truths the scores need
    const shapes = samples.map((s) => ({ height: s.height, width: s.width }))
    return { x, y, count: n, truths: samples.map((s) => s.mask), restore: (p, k) => restoreProbabilities(p, shapes[k] as { height: number; width: number }, spec) }
  }
  return {
    count: set.count,
    async *batches(batchSize): AsyncGenerator<ValidationBatch> {
      const at = (start: number): Promise<ValidationBatch> | null => {
        if (start >= set.count) return null
        const p = build(start, Math.min(batchSize, set.count - start))
        p.catch(() => undefined)
        return p
      }
      let next = at(0)
      for (let start = 0; next !== null; start += batchSize) {
        const b = await next
        next = at(start + batchSize)
        yield b
      }
    },
  }
}
