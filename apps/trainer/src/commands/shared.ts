import { InvalidArgumentError } from 'commander'
import { initBackend } from '@unet/runtime'
import { parseShard, parseTtaViews, TTA_VIEW_NAMES, type Shard, type TtaView } from '@unet/predict'
import { latestRun } from '@unet/predict/node'

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
