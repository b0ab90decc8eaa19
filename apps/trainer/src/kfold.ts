import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ensureFolder, writeFileAtomic } from '@unet/files'
import { KFOLD_FILE, parseKfoldManifest, type KfoldFold, type KfoldManifest } from '@unet/predict/node'
import { findCheckpoint, readState } from '@unet/train'
import { RESUMABLE_KEYS, resolveTrainConfig, type TrainConfig } from './config'
import { TrainerError } from './errors'
import type { TrainSummary } from './train'

/** `kfold.json` as `unet kfold` writes it: @unet/predict's manifest, plus the config every fold trains with. */
export interface KfoldRecord extends KfoldManifest {
  /** The config of every fold, but for `out` and `fold`. */
  readonly config: TrainConfig
}

/** Where a fold stands on disk: `finished` (its last checkpoint says so), `partial` (a checkpoint to resume) or `pending`. */
export async function foldStatus(foldDir: string): Promise<KfoldFold['status']> {
  const checkpoints = join(foldDir, 'checkpoints')
  if (!findCheckpoint(checkpoints, 'last')) return 'pending'
  return (await readState(checkpoints, 'last')).finished ? 'finished' : 'partial'
}

/** The run folder of fold `i` inside a k-fold folder. */
export const foldFolder = (fold: number): string => `fold-${fold}`

/**
 * Trains K folds of one config into `config.out/fold-<i>` (the stratified K-fold split of `unet train --folds K
 * --fold i`), fold by fold, with `trainFold` (what `unet train` runs). Resumable: a finished fold is skipped, a
 * partial one resumes from its checkpoint, and `kfold.json` records each fold's status after each step. A rerun takes
 * the recorded config, and the flags given again must agree with it (as `--resume` asks).
 *
 * @param config - the config with `folds` set to K; `out` is the k-fold folder
 * @param trainFold - trains one fold: `unet train`'s own code
 * @param options - the keys the user set (on a rerun, only those may differ from the record), a line printer
 * @returns the manifest and the summaries of the folds trained in this call
 * @throws {TrainerError} `BAD_FLAG` without `--folds`, or when the folder holds another k-fold's record
 * @example
 * ```ts
 * await trainKfold(resolveTrainConfig({ folds: 5, out: 'cv' }), (c, o) => train(c, o))
 * ```
 */
export async function trainKfold(
  config: TrainConfig,
  trainFold: (config: TrainConfig, options: { resume: boolean; explicitKeys: readonly string[] }) => Promise<TrainSummary>,
  options: { explicitKeys?: readonly string[]; say?: (line: string) => void } = {},
): Promise<{ manifest: KfoldRecord; trained: TrainSummary[] }> {
  if (config.folds === null) throw new TrainerError('BAD_FLAG', 'unet kfold needs --folds K (2 or more)')
  const dir = resolve(config.out)
  const file = join(dir, KFOLD_FILE)
  const say = options.say ?? (() => {})
  let base: TrainConfig = { ...config, fold: 0 }
  let explicitKeys = [...(options.explicitKeys ?? [])]
  if (existsSync(file)) {
    const text = await readFile(file, 'utf8')
    const recorded = parseKfoldManifest(text, file)
    const saved = (JSON.parse(text) as Partial<KfoldRecord>).config
    if (!saved || recorded.folds !== config.folds) {
      throw new TrainerError('BAD_FLAG', `${dir} holds a ${recorded.folds}-fold run${saved ? '' : ' without its config'}; give the same --folds ${recorded.folds}, or another --out`)
    }
    // the recorded config is the run's; flags given again override it key by key, as `unet train --resume` allows
    const given = Object.fromEntries(explicitKeys.filter((k) => k !== 'out' && k !== 'folds').map((k) => [k, (config as unknown as Record<string, unknown>)[k]]))
    // every fold must learn the same way: only what --resume may change can change between the folds
    for (const [k, v] of Object.entries(given)) {
      if (JSON.stringify(v) !== JSON.stringify((saved as unknown as Record<string, unknown>)[k]) && !RESUMABLE_KEYS.includes(k as keyof TrainConfig)) {
        throw new TrainerError('RESUME_MISMATCH', `${dir} was started with ${k} ${JSON.stringify((saved as unknown as Record<string, unknown>)[k])}; its folds cannot continue with ${JSON.stringify(v)} (only ${RESUMABLE_KEYS.join(', ')} can change); drop that flag or choose another --out`)
      }
    }
    base = resolveTrainConfig(saved, given, { out: config.out, fold: 0 })
    explicitKeys = Object.keys(given)
  }
  const K = base.folds as number
  const runs: KfoldFold[] = []
  for (let i = 0; i < K; i++) runs.push({ fold: i, dir: foldFolder(i), status: await foldStatus(join(dir, foldFolder(i))) })
  const write = async (): Promise<KfoldRecord> => {
    const manifest: KfoldRecord = { format: 'unet-kfold', version: 1, folds: K, runs, config: { ...base, out: dir } }
    await ensureFolder(dir)
    await writeFileAtomic(file, JSON.stringify(manifest, null, 2) + '\n')
    return manifest
  }
  let manifest = await write()
  const trained: TrainSummary[] = []
  for (const run of runs) {
    if (run.status === 'finished') {
      say(`fold ${run.fold + 1}/${K}: finished already (${join(dir, run.dir)}), skipped`)
      continue
    }
    const resume = run.status === 'partial'
    say(`fold ${run.fold + 1}/${K}: ${resume ? 'resuming' : 'training'} into ${join(dir, run.dir)}`)
    const foldConfig: TrainConfig = { ...base, fold: run.fold, out: join(dir, run.dir) }
    const summary = await trainFold(foldConfig, { resume, explicitKeys: resume ? explicitKeys : [] })
    trained.push(summary)
    runs[run.fold] = { ...run, status: summary.finished ? 'finished' : 'partial' }
    manifest = await write()
    if (!summary.finished) {
      say(`fold ${run.fold + 1}/${K} stopped (${summary.stopReason.kind}); run the same unet kfold command again to continue`)
      break
    }
  }
  return { manifest, trained }
}
