// Test helper (not exported): the values fixtures/make-fixtures.py writes, so tests can check every loaded weight.
import { VGG16_CONV_LAYERS, type VggConvLayerName } from './architecture'

/** The fixture value of element `i` of a VGG layer's kernel or bias (float32, as numpy casts it). */
export function patternValue(layer: VggConvLayerName, i: number, kind: 'kernel' | 'bias'): number {
  const k = VGG16_CONV_LAYERS.indexOf(layer)
  return kind === 'kernel' ? Math.fround((((i * 31 + k * 7) % 97) - 48) / 480) : Math.fround((((i * 13 + k) % 17) - 8) / 100)
}

/** Index of the first element of `values` that differs from the pattern, or -1. */
export function firstPatternMismatch(values: Float32Array, layer: VggConvLayerName, kind: 'kernel' | 'bias'): number {
  for (let i = 0; i < values.length; i++) if (values[i] !== patternValue(layer, i, kind)) return i
  return -1
}
