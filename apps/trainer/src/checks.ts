import { MONITORS, type MonitorName } from '@unet/train'
import type { RunData } from './data'
import { TrainerError } from './errors'

/**
 * The monitors a run's data cannot produce, with why. Every monitor is computed on the validation images, which a
 * run always has (a split that leaves none is refused first), and the TGS score, Dice, IoU and pixel accuracy are
 * defined for any 0/1 masks. What data can take away is their meaning: when no validation mask has a single
 * foreground pixel, a model that predicts nothing scores a perfect 1 on all four, so they cannot tell a better
 * model from a worse one. Only the validation loss still can.
 *
 * @param data - the run's data (its validation coverage classes)
 * @returns the monitors it cannot produce, each with the reason
 * @example
 * ```ts
 * unproducibleMonitors(data) // [] for data with foreground in validation
 * ```
 */
export function unproducibleMonitors(data: Pick<RunData, 'validation'>): { monitor: MonitorName; reason: string }[] {
  const v = data.validation
  if (v.count === 0 || v.coverageClasses.some((c) => c > 0)) return []
  const reason = `its validation masks (${v.count}) have no foreground pixel, so predicting nothing scores 1 and no model can beat it`
  return (Object.keys(MONITORS) as MonitorName[]).filter((m) => m !== 'val_loss').map((monitor) => ({ monitor, reason }))
}

/**
 * Refuses a monitor the data cannot produce (see {@link unproducibleMonitors}) in one line: what, where, what to do.
 *
 * @param monitor - the monitor the run would use
 * @param data - the run's data
 * @param source - where the data came from, for the message
 * @throws {@link TrainerError} `BAD_CONFIG`
 * @example
 * ```ts
 * checkMonitor('val_dice', data, 'data/whales')
 * ```
 */
export function checkMonitor(monitor: MonitorName, data: Pick<RunData, 'validation'>, source: string): void {
  const problem = unproducibleMonitors(data).find((p) => p.monitor === monitor)
  if (!problem) return
  throw new TrainerError('BAD_CONFIG', `--monitor ${monitor} cannot judge ${source}: ${problem.reason}; use --monitor val_loss, or give masks with foreground (another --seed or --val-split moves images into validation)`)
}
