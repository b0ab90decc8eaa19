import { InvalidArgumentError } from 'commander'
import { initBackend } from '@unet/runtime'
import { parseShard, parseTtaViews, resolveEmptyThreshold, TTA_VIEW_NAMES, type Shard, type TtaView } from '@unet/predict'
import { latestRun, readModelSet, type ModelSet } from '@unet/predict/node'

/** `--tta hflip,blur`, from the one list of views. */
export function ttaArg(value: string): TtaView[] {
  try {
    return parseTtaViews(value)
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message)
  }
}

/** `--shard I/N`. */
export function shardArg(value: string): Shard {
  try {
    return parseShard(value)
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message)
  }
}

export const ttaHelp = `test-time augmentation: comma list of ${TTA_VIEW_NAMES.join(', ')}, averaged with the plain view after each is undone (default: none)`

/** The run folder `--model` names, or the newest under ./runs. */
export function runDir(model: string | undefined): string {
  if (model !== undefined) return model
  const latest = latestRun(process.cwd())
  if (latest === null) throw new Error('no --model given and no run with run.json under ./runs; pass --model RUN_DIR (a folder written by `unet train`)')
  return latest
}

/** Starts the backend the user asked for (the library never picks one). */
export async function startPredictBackend(backend: string | undefined, threads: number | undefined): Promise<string> {
  try {
    const r = await initBackend({ backend: (backend ?? 'auto') as 'auto', ...(threads ? { threads } : {}) })
    return r.native === true ? `${r.backend} + oneDNN` : r.backend
  } catch (cause) {
    throw new Error(`cannot start the ${backend ?? 'auto'} backend: ${(cause as Error).message}; try --backend cpu`, { cause })
  }
}

/** Ctrl-C and SIGTERM abort the signal (the run writes nothing); a second one quits at once. */
export function interruptible<T>(work: (signal: AbortSignal) => Promise<T>, onInterrupt: () => void): Promise<T> {
  const controller = new AbortController()
  const handler = (): void => {
    if (controller.signal.aborted) process.exit(130)
    onInterrupt()
    controller.abort(new Error('interrupted: nothing was written'))
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return work(controller.signal).finally(() => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  })
}

/** A few skipped files as lines for stderr. */
export function describeSkipped(skipped: readonly { file: string; reason: string }[], what: string): string {
  if (skipped.length === 0) return ''
  const shown = skipped.slice(0, 5).map((s) => `  ${s.file}: ${s.reason}`)
  return [`${skipped.length} file(s) ${what}:`, ...shown, ...(skipped.length > 5 ? [`  … and ${skipped.length - 5} more (all in --json output)`] : [])].join('\n') + '\n'
}

/** A plain text table. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()
  return [line(head), ...rows.map(line)].join('\n')
}

/** `--empty-threshold P|none`: a probability, or `none` (commander would turn a parsed null into '', so it stays a word). */
export function emptyThresholdArg(value: string): number | 'none' {
  if (value === 'none') return 'none'
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a probability between 0 and 1, or none')
  return n
}

export const emptyThresholdHelp =
  'runs with a "has mask" classifier (--deep-supervision): zero the masks of images whose classifier probability is below P; none keeps every mask (default: run.json\'s, 0.5)'

export const snapshotsHelp = "average the run's cosine snapshot models (snapshot-cycle-*, one per cosine cycle of --lr-schedule cosine) instead of its best model, each with the TTA views"

export const modelSetHelp = 'run folder written by `unet train`, or a k-fold folder written by `unet kfold` (its folds averaged) (default: the newest run under ./runs)'

/** `--model`, `--snapshots` and `--empty-threshold` as @unet/predict takes them: the models to average and the empty threshold. */
export async function modelsOf(flags: { model?: string; snapshots?: boolean; emptyThreshold?: number | 'none' }): Promise<{ folder: ModelSet; emptyThreshold: 'auto' | number | null }> {
  const folder = await readModelSet(runDir(flags.model), { snapshots: flags.snapshots === true })
  const emptyThreshold = flags.emptyThreshold === undefined ? 'auto' : flags.emptyThreshold === 'none' ? null : flags.emptyThreshold
  return { folder, emptyThreshold }
}

/** One line saying what `--model` (and `--snapshots`) made of the models, when it is more than one run's best. */
export function describeModelSet(folder: ModelSet, emptyThreshold: 'auto' | number | null): string {
  const empty = resolveEmptyThreshold(folder.run, emptyThreshold)
  const what =
    folder.kind === 'kfold'
      ? `averaging ${folder.members.length} folds of ${folder.dir}${folder.modelPaths.length > folder.members.length ? ` (${folder.modelPaths.length} snapshot models)` : ''}`
      : folder.modelPaths.some((p) => /snapshot-cycle-/.test(p))
        ? `averaging ${folder.modelPaths.length} cosine snapshot models of ${folder.dir}`
        : ''
  const classifier = folder.run.emptyClassifier !== undefined
  const zeroing = empty === null ? '' : classifier ? `zeroing masks of images the has-mask classifier puts below ${empty}` : `note: ${folder.dir} has no has-mask classifier (train with --deep-supervision); --empty-threshold has no effect`
  const parts = [what, zeroing].filter(Boolean)
  return parts.length > 0 ? `${parts.join('; ')}\n` : ''
}
