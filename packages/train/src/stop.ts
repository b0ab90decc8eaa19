import type { MonitorName } from './monitors'

/**
 * Why `fit` stopped: a value, not a message. {@link describeStop} turns it into words.
 */
export type StopReason =
  | { readonly kind: 'completed' }
  | { readonly kind: 'interrupted' }
  | { readonly kind: 'early_stopping'; readonly monitor: MonitorName; readonly patience: number }
  | { readonly kind: 'nan_loss'; readonly loss: number; readonly globalStep: number }
  | { readonly kind: 'time_limit'; readonly seconds: number }
  | { readonly kind: 'callback'; readonly callback: string; readonly message: string }

/**
 * Whether a run that stopped for this reason is over (`--resume` cannot continue it) — completed, stopped early,
 * or by a callback — rather than cut short (interrupted, time limit). A NaN loss ends the run too.
 *
 * @param reason - the stop reason
 * @returns true when the run is over
 * @example
 * ```ts
 * isFinished({ kind: 'interrupted' }) // false
 * ```
 */
export function isFinished(reason: StopReason): boolean {
  return reason.kind !== 'interrupted' && reason.kind !== 'time_limit'
}

/**
 * A stop reason in a user's words.
 *
 * @param reason - the stop reason
 * @returns one line
 * @example
 * ```ts
 * describeStop({ kind: 'time_limit', seconds: 600 }) // 'time limit of 600 s reached'
 * ```
 */
export function describeStop(reason: StopReason): string {
  switch (reason.kind) {
    case 'completed':
      return 'completed'
    case 'interrupted':
      return 'interrupted'
    case 'early_stopping':
      return `early stopping: no better ${reason.monitor} for ${reason.patience} epochs`
    case 'nan_loss':
      return `loss became ${reason.loss} at step ${reason.globalStep + 1}; the best checkpoint was kept as it was — lower the learning rate or change the loss`
    case 'time_limit':
      return `time limit of ${reason.seconds} s reached`
    case 'callback':
      return `${reason.callback}: ${reason.message}`
  }
}
