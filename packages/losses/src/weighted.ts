import * as tf from '@tensorflow/tfjs-core'
import { LossError } from './errors'
import { defineLoss, type LossFunction, type LossSpec } from './math'
import { getLoss, type LossName } from './registry'

/** One term of {@link weightedLoss}: a loss (by registry name, a loss of this package, or any `(yTrue, yPred) → tensor`) and its weight. */
export interface WeightedTerm {
  /** A registry name, a loss of this package, or your own function. */
  loss: LossName | LossFunction | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor)
  /** Its weight, a finite number ≥ 0. */
  weight: number
}

/**
 * A weighted sum of losses, e.g. `0.5 · BCE + 1 · Lovasz`. When every term comes from this package the
 * sum keeps a JSON spec, so a model compiled with it through `compileWithLoss` can be restored by name.
 *
 * @param terms - the losses and their weights (at least one)
 * @returns a loss for `model.compile({ loss })`, registry name `'weighted'`
 * @example
 * ```ts
 * const loss = weightedLoss([{ loss: 'bce', weight: 0.5 }, { loss: 'dice', weight: 1 }])
 * model.compile({ optimizer: 'adam', loss })
 * ```
 */
export function weightedLoss(terms: readonly WeightedTerm[]): LossFunction {
  if (!Array.isArray(terms) || terms.length === 0) {
    throw new LossError('INVALID_OPTION', 'weightedLoss needs a non-empty array of { loss, weight } terms.')
  }
  const resolved = terms.map((term, i) => {
    if (typeof term?.weight !== 'number' || !Number.isFinite(term.weight) || term.weight < 0) {
      throw new LossError('INVALID_OPTION', `weightedLoss term ${i}: weight is ${JSON.stringify(term?.weight)}; it must be a finite number ≥ 0.`)
    }
    const loss = typeof term.loss === 'string' ? getLoss(term.loss) : term.loss
    if (typeof loss !== 'function') {
      throw new LossError('INVALID_OPTION', `weightedLoss term ${i}: loss must be a registry name or a function (yTrue, yPred) → tensor.`)
    }
    return { loss, weight: term.weight, spec: (loss as Partial<LossFunction>).spec }
  })
  const spec: LossSpec | undefined = resolved.every((t) => t.spec !== undefined)
    ? { name: 'weighted', options: { terms: resolved.map((t) => ({ loss: t.spec, weight: t.weight })) } }
    : undefined
  return defineLoss('weighted', spec, (y, p) =>
    resolved.map((t) => tf.mul(t.weight, tf.mean(t.loss(y, p)))).reduce((a, b) => tf.add(a, b)),
  )
}
