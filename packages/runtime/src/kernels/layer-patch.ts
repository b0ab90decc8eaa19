import { serialization, type Tensor } from '@tensorflow/tfjs-core'

/**
 * The prototype of the tfjs-layers class registered under `className` (`Conv2D`, `BatchNormalization`, `Model`,
 * …), for the kernels that patch a layer's `call`; null when tfjs-layers is not loaded.
 */
export function layerPrototype<P extends object>(className: string): P | null {
  const entry = serialization.SerializationMap.getMap().classNameMap[className] as [{ prototype: P }, unknown] | undefined
  return entry?.[0].prototype ?? null
}

/** The one input of a layer call, as tfjs-layers' `getExactlyOneTensor` takes it; null for anything else. */
export function oneTensor(inputs: Tensor | Tensor[]): Tensor | null {
  if (!Array.isArray(inputs)) return inputs
  return inputs.length === 1 ? inputs[0]! : null
}

/** Whether a layer call's keyword arguments ask for training mode (`training` set and not false). */
export function isTrainingCall(kwargs: { training?: unknown } | undefined | null): boolean {
  return kwargs?.training != null && kwargs.training !== false
}
