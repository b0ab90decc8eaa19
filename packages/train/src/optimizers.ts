import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { TrainError } from './errors'

/** One optimizer `fit` can build, declared once (the CLI's choices and help read it). */
export interface OptimizerDeclaration {
  /** What it is, in a user's words. */
  readonly description: string
  /** Whether it takes a momentum. */
  readonly momentum: boolean
}

/**
 * The optimizers, declared once.
 *
 * @example
 * ```ts
 * import { OPTIMIZERS } from '@unet/train'
 * Object.keys(OPTIMIZERS) // ['adam', 'sgd', 'rmsprop']
 * ```
 */
export const OPTIMIZERS = Object.freeze({
  adam: { description: 'Adam (β1 0.9, β2 0.999)', momentum: false },
  sgd: { description: 'stochastic gradient descent, with heavy-ball --momentum (Carvana: 0.99)', momentum: true },
  rmsprop: { description: 'RMSprop (decay 0.9), with --momentum', momentum: true },
} as const satisfies Record<string, OptimizerDeclaration>)

/** An optimizer's name. */
export type OptimizerName = keyof typeof OPTIMIZERS

/** The optimizer names, in declaration order. */
export const OPTIMIZER_NAMES: readonly OptimizerName[] = Object.freeze(Object.keys(OPTIMIZERS) as OptimizerName[])

/** What to optimize with. */
export interface OptimizerSpec {
  /** `adam`, `sgd` or `rmsprop`. */
  readonly name: OptimizerName
  /** The learning rate at the start. */
  readonly learningRate: number
  /** Momentum (sgd, rmsprop). Default 0. */
  readonly momentum?: number
  /**
   * Decoupled weight decay (as AdamW and SGDW): after every step each kernel shrinks by `learningRate × weightDecay`.
   * Default 0.
   */
  readonly weightDecay?: number
}

/**
 * Checks an optimizer spec, with one line per problem naming what to do.
 *
 * @param spec - the spec
 * @returns the problems (empty when it is fine)
 * @example
 * ```ts
 * checkOptimizer({ name: 'adam', learningRate: 0.001, momentum: 0.9 }) // ['--momentum is for sgd and rmsprop; …']
 * ```
 */
export function checkOptimizer(spec: OptimizerSpec): string[] {
  const problems: string[] = []
  if (!Object.hasOwn(OPTIMIZERS, spec.name)) problems.push(`unknown optimizer ${JSON.stringify(spec.name)}; use one of ${OPTIMIZER_NAMES.join(', ')}`)
  if (!(typeof spec.learningRate === 'number' && spec.learningRate > 0 && Number.isFinite(spec.learningRate))) {
    problems.push(`learning rate must be a positive number, got ${JSON.stringify(spec.learningRate)}`)
  }
  const m = spec.momentum ?? 0
  if (!(typeof m === 'number' && m >= 0 && m < 1)) problems.push(`momentum must be in [0, 1), got ${JSON.stringify(spec.momentum)}`)
  else if (m > 0 && Object.hasOwn(OPTIMIZERS, spec.name) && !OPTIMIZERS[spec.name].momentum) {
    problems.push(`momentum is for ${OPTIMIZER_NAMES.filter((n) => OPTIMIZERS[n].momentum).join(' and ')}; ${spec.name} has its own (drop the momentum or pick sgd)`)
  }
  const wd = spec.weightDecay ?? 0
  if (!(typeof wd === 'number' && wd >= 0 && Number.isFinite(wd))) problems.push(`weight decay must be a number ≥ 0, got ${JSON.stringify(spec.weightDecay)}`)
  return problems
}

/**
 * Builds the tfjs optimizer of a spec.
 *
 * @param spec - name, learning rate, momentum
 * @returns the optimizer
 * @throws {@link TrainError} `BAD_OPTION` for a bad spec
 * @example
 * ```ts
 * const optimizer = createOptimizer({ name: 'sgd', learningRate: 0.01, momentum: 0.99 })
 * ```
 */
export function createOptimizer(spec: OptimizerSpec): tf.Optimizer {
  const problems = checkOptimizer(spec)
  if (problems.length > 0) throw new TrainError('BAD_OPTION', problems.join('; '))
  const m = spec.momentum ?? 0
  switch (spec.name) {
    case 'adam':
      return tf.train.adam(spec.learningRate)
    case 'sgd':
      return m > 0 ? tf.train.momentum(spec.learningRate, m) : tf.train.sgd(spec.learningRate)
    case 'rmsprop':
      return tf.train.rmsprop(spec.learningRate, 0.9, m)
  }
}

interface LearningRateHolder {
  learningRate: number
  setLearningRate?: (lr: number) => void
}

/**
 * Reads an optimizer's learning rate.
 *
 * @param optimizer - the optimizer
 * @returns its learning rate
 * @example
 * ```ts
 * getLearningRate(tf.train.adam(0.01)) // 0.01
 * ```
 */
export function getLearningRate(optimizer: tf.Optimizer): number {
  return (optimizer as unknown as LearningRateHolder).learningRate
}

/**
 * Changes an optimizer's learning rate between steps. Adam and RMSprop read the field on every step; SGD and
 * momentum keep a scalar tensor of it, which `setLearningRate` replaces.
 *
 * @param optimizer - the optimizer
 * @param lr - the new rate
 * @returns nothing
 * @example
 * ```ts
 * setLearningRate(optimizer, 0.001)
 * ```
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as LearningRateHolder
  if (o.learningRate === lr) return
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr)
  else o.learningRate = lr
}

/** One saved optimizer variable: its name, shape, dtype and exact values. */
export interface SavedVariable {
  readonly name: string
  readonly shape: number[]
  readonly dtype: 'float32' | 'int32'
  readonly values: Float32Array | Int32Array
}

/** An optimizer's whole state, exactly: what {@link saveOptimizerState} returns and {@link restoreOptimizerState} takes. */
export interface OptimizerState {
  /** The tfjs class (`Adam`, `Momentum`, `SGD`, `RMSProp`). */
  readonly className: string
  /** `optimizer.getWeights()` (iteration count and slots), then any running products the class keeps outside them. */
  readonly variables: SavedVariable[]
}

interface AdamInternals {
  accBeta1: tf.Variable
  accBeta2: tf.Variable
}

const ADAM_POWERS = ['__accBeta1', '__accBeta2'] as const

/**
 * Reads an optimizer's state exactly: its slot variables and, for Adam, the float32 running products β1ᵗ and β2ᵗ.
 * (tfjs Adam's `setWeights` recomputes those with `pow`, which differs from the running product in the last bits;
 * a resumed run would then drift from an uninterrupted one.)
 *
 * @param optimizer - the optimizer
 * @returns its state, as plain typed arrays
 * @example
 * ```ts
 * const state = await saveOptimizerState(optimizer)
 * ```
 */
export async function saveOptimizerState(optimizer: tf.Optimizer): Promise<OptimizerState> {
  const named = await optimizer.getWeights()
  const variables: SavedVariable[] = []
  try {
    for (const { name, tensor } of named) variables.push(await toSaved(name, tensor))
  } finally {
    // getWeights hands out the optimizer's own slot variables (keep them) and a fresh iteration count (dispose it)
    tf.dispose(named.map((n) => n.tensor).filter((t) => !(t instanceof tf.Variable)))
  }
  const className = optimizer.getClassName()
  if (className === 'Adam') {
    const adam = optimizer as unknown as AdamInternals
    variables.push(await toSaved(ADAM_POWERS[0], adam.accBeta1), await toSaved(ADAM_POWERS[1], adam.accBeta2))
  }
  return { className, variables }
}

async function toSaved(name: string, tensor: tf.Tensor): Promise<SavedVariable> {
  const data = await tensor.data()
  const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32'
  return { name, shape: tensor.shape.slice(), dtype, values: dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data) }
}

/**
 * Puts a state read by {@link saveOptimizerState} into an optimizer of the same class, bit for bit.
 *
 * @param optimizer - a fresh optimizer of the same kind
 * @param state - the saved state
 * @returns once restored
 * @throws {@link TrainError} `NO_CHECKPOINT` when the classes differ
 * @example
 * ```ts
 * await restoreOptimizerState(createOptimizer(spec), state)
 * ```
 */
export async function restoreOptimizerState(optimizer: tf.Optimizer, state: OptimizerState): Promise<void> {
  if (optimizer.getClassName() !== state.className) {
    throw new TrainError('NO_CHECKPOINT', `the checkpoint holds ${state.className} optimizer state but this run uses ${optimizer.getClassName()}; resume with the optimizer it was trained with`)
  }
  const powers = state.variables.filter((v) => (ADAM_POWERS as readonly string[]).includes(v.name))
  const slots = state.variables.filter((v) => !(ADAM_POWERS as readonly string[]).includes(v.name))
  const tensors = slots.map((v) => ({ name: v.name, tensor: tf.tensor(v.values, v.shape, v.dtype) }))
  try {
    // a state saved before the first step holds only the iteration count: nothing to set
    if (tensors.length > 1 || optimizer.getClassName() !== 'Adam') await optimizer.setWeights(tensors)
  } finally {
    tf.dispose(tensors.map((t) => t.tensor))
  }
  if (state.className === 'Adam' && powers.length === 2) {
    const adam = optimizer as unknown as AdamInternals
    tf.tidy(() => {
      adam.accBeta1.assign(tf.tensor(powers[0]!.values, powers[0]!.shape, 'float32'))
      adam.accBeta2.assign(tf.tensor(powers[1]!.values, powers[1]!.shape, 'float32'))
    })
  }
}

/**
 * Decoupled weight decay: every trainable kernel shrinks by `lr × weightDecay` (biases and batch-norm parameters
 * are left alone, as is usual).
 *
 * @param model - the model
 * @param lr - the learning rate of the step just taken
 * @param weightDecay - the decay
 * @returns nothing
 * @example
 * ```ts
 * applyWeightDecay(model, 0.01, 1e-4)
 * ```
 */
export function applyWeightDecay(model: LayersModel, lr: number, weightDecay: number): void {
  if (!(weightDecay > 0)) return
  const factor = 1 - lr * weightDecay
  tf.tidy(() => {
    for (const w of model.trainableWeights) {
      if (!/kernel/.test(w.originalName ?? w.name)) continue
      w.write(tf.mul(w.read(), factor))
    }
  })
}

/**
 * Disposes an optimizer and everything it holds. (tfjs' momentum optimizer leaves its learning-rate scalar behind.)
 *
 * @param optimizer - the optimizer
 * @returns nothing
 * @example
 * ```ts
 * disposeOptimizer(optimizer)
 * ```
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose()
  const c = (optimizer as unknown as { c?: tf.Tensor }).c
  if (c && !c.isDisposed) c.dispose()
}
