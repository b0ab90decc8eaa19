import { bceLoss, type BceOptions } from './bce'
import { bceWithLogitsLoss } from './bce-logits'
import { bceDiceLoss, type BceDiceOptions } from './bce-dice'
import { diceLoss, type SoftOverlapOptions } from './dice'
import { LossError } from './errors'
import { focalLoss, type FocalOptions } from './focal'
import { jaccardLoss } from './jaccard'
import { lovaszHingeEluLoss, lovaszHingeLoss, lovaszHingeSymmetricLoss } from './lovasz'
import * as tf from '@tensorflow/tfjs-core'
import { defineLoss, type LossFunction, type LossSpec } from './math'
import { weightedLoss } from './weighted'

/** The options each registry name takes. */
export interface LossOptionsByName {
  bce: BceOptions
  bce_logits: Record<string, never>
  dice: SoftOverlapOptions
  bce_dice: BceDiceOptions
  jaccard: SoftOverlapOptions
  focal: FocalOptions
  lovasz_hinge: Record<string, never>
  lovasz_hinge_elu: Record<string, never>
  lovasz_hinge_symmetric: Record<string, never>
}

/** A name the registry knows: see {@link lossNames}. */
export type LossName = keyof LossOptionsByName

const factories: { [N in LossName]: (options?: LossOptionsByName[N]) => LossFunction } = {
  bce: bceLoss,
  bce_logits: bceWithLogitsLoss,
  dice: diceLoss,
  bce_dice: bceDiceLoss,
  jaccard: jaccardLoss,
  focal: focalLoss,
  lovasz_hinge: lovaszHingeLoss,
  lovasz_hinge_elu: lovaszHingeEluLoss,
  lovasz_hinge_symmetric: lovaszHingeSymmetricLoss,
}

/** What a loss expects from the model: raw scores (`logits`, the model ends without a sigmoid) or `probabilities`. */
export type LossInput = 'logits' | 'probabilities'

/**
 * What each registry loss expects from the model, declared once (the CLI picks the model's output activation from it).
 *
 * @example
 * ```ts
 * LOSS_INPUTS.lovasz_hinge // 'logits'
 * ```
 */
export const LOSS_INPUTS: Readonly<Record<LossName, LossInput>> = Object.freeze({
  bce: 'probabilities',
  bce_logits: 'logits',
  dice: 'probabilities',
  bce_dice: 'probabilities',
  jaccard: 'probabilities',
  focal: 'probabilities',
  lovasz_hinge: 'logits',
  lovasz_hinge_elu: 'logits',
  lovasz_hinge_symmetric: 'logits',
})

/**
 * A registry loss for a model that outputs `input`: a loss on probabilities given logits gets a sigmoid first (so
 * one logit model can train with `bce_dice` and then `lovasz_hinge`). A loss on logits cannot take probabilities.
 *
 * @param name - one of {@link lossNames}
 * @param input - what the model outputs
 * @returns the loss, reading that output
 * @throws {LossError} `UNKNOWN_LOSS`, or `INVALID_OPTION` for a logit loss on a probability model
 * @example
 * ```ts
 * const loss = lossFor('bce_dice', 'logits') // bce_dice(y, sigmoid(logits))
 * ```
 */
export function lossFor(name: string, input: LossInput): LossFunction {
  const loss = getLoss(name)
  const takes = LOSS_INPUTS[name as LossName]
  if (takes === input) return loss
  if (takes === 'logits') {
    throw new LossError('INVALID_OPTION', `Loss ${JSON.stringify(name)} takes logits, but the model outputs probabilities; build it with outputActivation 'linear'.`)
  }
  return defineLoss(name, undefined, (yTrue, yPred) => loss(yTrue, tf.sigmoid(yPred)))
}

/**
 * Every name {@link getLoss} accepts, in a stable order.
 *
 * @example
 * ```ts
 * lossNames // ['bce', 'bce_logits', 'dice', 'bce_dice', 'jaccard', 'focal', 'lovasz_hinge', 'lovasz_hinge_elu', 'lovasz_hinge_symmetric']
 * ```
 */
export const lossNames: readonly LossName[] = Object.freeze(Object.keys(factories) as LossName[])

/**
 * Whether `name` is a registry name.
 *
 * @param name - any string
 * @returns true for the names of {@link lossNames}
 * @example
 * ```ts
 * isLossName('dice') // true
 * ```
 */
export function isLossName(name: string): name is LossName {
  return Object.prototype.hasOwnProperty.call(factories, name)
}

/**
 * Looks a loss up by name, as segmentation_models does; an unknown name throws a {@link LossError}
 * (`code: 'UNKNOWN_LOSS'`) that lists the valid ones.
 *
 * @param name - one of {@link lossNames}
 * @param options - the loss's options (e.g. `{ alpha, gamma }` for `'focal'`)
 * @returns a loss for `model.compile({ loss })`
 * @example
 * ```ts
 * model.compile({ optimizer: 'adam', loss: getLoss('focal', { gamma: 2 }) })
 * ```
 */
export function getLoss<N extends LossName>(name: N, options?: LossOptionsByName[N]): LossFunction
export function getLoss(name: string, options?: Record<string, unknown>): LossFunction
export function getLoss(name: string, options: Record<string, unknown> = {}): LossFunction {
  if (!isLossName(name)) {
    throw new LossError('UNKNOWN_LOSS', `Unknown loss ${JSON.stringify(name)}; valid names are ${lossNames.map((n) => `'${n}'`).join(', ')}.`)
  }
  return (factories[name] as (options?: Record<string, unknown>) => LossFunction)(options)
}

/**
 * Rebuilds a loss from its JSON {@link LossSpec} (what `loss.spec` holds and `compileWithLoss` saves with a model).
 *
 * @param spec - `{ name, options }`; `'weighted'` specs nest their terms' specs
 * @returns the loss
 * @example
 * ```ts
 * const loss = lossFromSpec({ name: 'bce_dice', options: { bceWeight: 0.5 } })
 * ```
 */
export function lossFromSpec(spec: LossSpec): LossFunction {
  if (spec?.name === 'weighted') {
    const terms = (spec.options as { terms?: Array<{ loss: LossSpec; weight: number }> } | undefined)?.terms
    if (!Array.isArray(terms)) throw new LossError('INVALID_OPTION', 'A weighted loss spec needs options.terms: [{ loss, weight }].')
    return weightedLoss(terms.map((t) => ({ loss: lossFromSpec(t.loss), weight: t.weight })))
  }
  if (typeof spec?.name !== 'string') throw new LossError('INVALID_OPTION', `A loss spec needs a name; got ${JSON.stringify(spec)}.`)
  return getLoss(spec.name, spec.options ?? {})
}
