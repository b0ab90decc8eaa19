import * as tf from '@tensorflow/tfjs-core'
import { bceMap } from './bce'
import { diceMap } from './dice'
import { checkOptionKeys, defineLoss, numberOption, type LossFunction } from './math'

/** Options of {@link bceDiceLoss}. */
export interface BceDiceOptions {
  /** Weight of the binary cross-entropy term. Default 1. */
  bceWeight?: number
  /** Weight of the soft Dice term. Default 1. */
  diceWeight?: number
  /** Smoothing of the Dice term. Default 1. */
  smooth?: number
}

/**
 * `bceWeight · BCE + diceWeight · soft Dice`, both on probabilities — the usual TGS starting loss.
 * Registry name `'bce_dice'`.
 *
 * @param options - `bceWeight` (default 1), `diceWeight` (default 1), `smooth` (default 1)
 * @returns a loss for `model.compile({ loss })`
 * @example
 * ```ts
 * model.compile({ optimizer: 'adam', loss: bceDiceLoss({ bceWeight: 0.5, diceWeight: 1 }) })
 * ```
 */
export function bceDiceLoss(options: BceDiceOptions = {}): LossFunction {
  const record = options as Record<string, unknown>
  checkOptionKeys('bce_dice', record, ['bceWeight', 'diceWeight', 'smooth'])
  const bceWeight = numberOption('bce_dice', record, 'bceWeight', 1, 0, Number.MAX_VALUE)
  const diceWeight = numberOption('bce_dice', record, 'diceWeight', 1, 0, Number.MAX_VALUE)
  const smooth = numberOption('bce_dice', record, 'smooth', 1, 0, Number.MAX_VALUE)
  return defineLoss('bce_dice', { name: 'bce_dice', options: { bceWeight, diceWeight, smooth } }, (y, p) =>
    tf.add(tf.mul(bceWeight, tf.mean(bceMap(y, p))), tf.mul(diceWeight, tf.mean(diceMap(y, p, smooth, false)))),
  )
}
