import { TrainError } from './errors'

/** Whether a larger or a smaller value of a monitored quantity is better. */
export type MonitorMode = 'max' | 'min'

/** One quantity that can drive the best checkpoint, early stopping and LR reduction. */
export interface MonitorDeclaration {
  /** Larger or smaller is better. */
  readonly mode: MonitorMode
  /** The field of {@link EpochLogs} it reads. */
  readonly field: 'valTgs' | 'valDice' | 'valIou' | 'valPixelAccuracy' | 'valLoss'
  /** The score the validation threshold is chosen by when this is monitored. */
  readonly thresholdMetric: 'tgs' | 'dice' | 'iou' | 'pixelAccuracy'
  /** What it is, in a user's words (CLI help). */
  readonly description: string
}

/**
 * The monitors, declared once: the CLI's choices, its help and the checks all read this table.
 *
 * @example
 * ```ts
 * import { MONITORS } from '@unet/train'
 * MONITORS.val_dice.mode // 'max'
 * ```
 */
export const MONITORS = Object.freeze({
  val_tgs: { mode: 'max', field: 'valTgs', thresholdMetric: 'tgs', description: 'validation TGS Salt score (mean precision over IoU 0.50…0.95)' },
  val_dice: { mode: 'max', field: 'valDice', thresholdMetric: 'dice', description: 'validation Dice' },
  val_iou: { mode: 'max', field: 'valIou', thresholdMetric: 'iou', description: 'validation IoU (Jaccard)' },
  val_pixel_accuracy: { mode: 'max', field: 'valPixelAccuracy', thresholdMetric: 'pixelAccuracy', description: 'validation pixel accuracy' },
  val_loss: { mode: 'min', field: 'valLoss', thresholdMetric: 'dice', description: 'validation loss (threshold chosen by Dice)' },
} as const satisfies Record<string, MonitorDeclaration>)

/** A monitor's name: `val_tgs`, `val_dice`, `val_iou`, `val_pixel_accuracy` or `val_loss`. */
export type MonitorName = keyof typeof MONITORS

/** The monitor names, in declaration order. */
export const MONITOR_NAMES: readonly MonitorName[] = Object.freeze(Object.keys(MONITORS) as MonitorName[])

/**
 * Looks a monitor up by name.
 *
 * @param name - e.g. `val_dice`
 * @returns its declaration
 * @throws {@link TrainError} `BAD_OPTION` naming the valid monitors
 * @example
 * ```ts
 * resolveMonitor('val_loss').mode // 'min'
 * ```
 */
export function resolveMonitor(name: string): MonitorDeclaration & { readonly name: MonitorName } {
  if (!Object.hasOwn(MONITORS, name)) {
    throw new TrainError('BAD_OPTION', `unknown monitor ${JSON.stringify(name)}; use one of ${MONITOR_NAMES.join(', ')}`)
  }
  return { name: name as MonitorName, ...MONITORS[name as MonitorName] }
}

/**
 * Whether `value` beats `best` for this monitor by more than `minDelta`; a non-finite value never does, and
 * anything finite beats `null`.
 *
 * @param name - the monitor
 * @param value - this epoch's value
 * @param best - the best so far, or null
 * @param minDelta - smallest change that counts
 * @returns true when it is an improvement
 * @example
 * ```ts
 * improves('val_loss', 0.3, 0.4) // true
 * ```
 */
export function improves(name: MonitorName, value: number, best: number | null, minDelta = 0): boolean {
  if (!Number.isFinite(value)) return false
  if (best === null) return true
  return MONITORS[name].mode === 'max' ? value > best + minDelta : value < best - minDelta
}
