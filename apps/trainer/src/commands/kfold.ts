import type { Command } from 'commander'
import { join } from 'node:path'
import { readRun } from '@unet/predict/node'
import { TrainerError } from '../errors'
import { trainKfold } from '../kfold'
import { addTrainOptions, trainConfigFromFlags, trainWithSignals } from './train'

/**
 * Adds `unet kfold --folds K [train flags] --out DIR`: K runs of `unet train --folds K --fold i` into DIR/fold-i,
 * fold by fold and resumable, recorded in DIR/kfold.json; `unet predict --model DIR` averages the folds.
 *
 * @param program - the `unet` program
 */
export function addKfoldCommand(program: Command): void {
  addTrainOptions(
    program
      .command('kfold')
      .description(
        'Train K folds (stratified K-fold, as train --folds K --fold i) into OUT/fold-0 … OUT/fold-K-1, recorded in OUT/kfold.json. Run it again to continue: finished folds are skipped, a partial one resumes. Predict or evaluate their average with --model OUT.',
      ),
  ).action(async (opts: Record<string, unknown>) => {
    if (opts.out === undefined) throw new TrainerError('BAD_FLAG', 'unet kfold needs --out DIR (the k-fold folder: DIR/fold-<i>, DIR/kfold.json)')
    if (opts.fold !== undefined) throw new TrainerError('BAD_FLAG', 'unet kfold trains every fold; leave out --fold (unet train --folds K --fold i trains one)')
    if (opts.folds === undefined) throw new TrainerError('BAD_FLAG', 'unet kfold needs --folds K (2 or more)')
    const { config, explicitKeys } = await trainConfigFromFlags(opts)
    const say = (line: string): void => void process.stderr.write(`unet kfold: ${line}\n`)
    const { manifest } = await trainKfold(config, (c, o) => trainWithSignals(c, { ...o, quiet: opts.quiet === true, json: opts.json === true }), { explicitKeys, say })
    if (manifest.runs.every((r) => r.status === 'finished')) {
      const scores: string[] = []
      for (const r of manifest.runs) {
        const run = (await readRun(join(config.out, r.dir))).run
        scores.push(`fold ${r.fold}: ${run.monitor.name} ${run.monitor.best?.toFixed(4) ?? '–'}`)
      }
      process.stdout.write(`${manifest.folds} folds finished in ${config.out} (${scores.join(', ')}); predict their average with: unet predict --model ${config.out} --tta hflip\n`)
    }
  })
}
