import { getBackend, getGradient, registerGradient, type GradConfig, type NamedAttrMap, type Tensor } from '@tensorflow/tfjs-core'

/**
 * Replaces the registered gradient of a one-input kernel with ours on the wasm backend, for float32 inputs the
 * `covers` test accepts; every other backend, dtype and case goes to tfjs-core's own gradient. tfjs has one
 * gradient registry for all backends, so the override must defer everywhere it does not apply.
 *
 * @param kernelName - the forward kernel whose gradient is replaced
 * @param covers - whether ours handles this case (the wasm backend and float32 x are already checked)
 * @param grad - dx from dy and the saved x
 */
export function overrideWasmGradient(
  kernelName: string,
  covers: (dy: Tensor, x: Tensor, attrs: NamedAttrMap) => boolean,
  grad: (dy: Tensor, x: Tensor) => Tensor,
): void {
  const stock = getGradient(kernelName)
  if (stock === undefined) return
  const config: GradConfig = {
    kernelName,
    inputsToSave: stock.inputsToSave ?? ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [Tensor]
      if (getBackend() !== 'wasm' || Array.isArray(dy) || x.dtype !== 'float32' || !covers(dy, x, attrs)) {
        return stock.gradFunc(dy, saved, attrs)
      }
      return { x: () => grad(dy, x) }
    },
  }
  registerGradient(config)
}
