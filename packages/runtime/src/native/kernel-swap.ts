import { getKernel, registerKernel, unregisterKernel, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core'

/**
 * wasm kernels replaced by native ones, remembered so they can be put back: the one place the native kernel
 * files (convolutions, batch norm, ReLU, per-channel ops) swap a registered kernel.
 *
 * @example
 * ```ts
 * const swap = new KernelSwap()
 * swap.replace('Relu', (fallback) => (args) => (canRunNatively(args) ? runNatively(args) : fallback(args)))
 * swap.restore() // wasm's own Relu again
 * ```
 */
export class KernelSwap {
  private readonly previous: KernelConfig[] = []

  /** The kernels replaced so far, in order. */
  get names(): string[] {
    return this.previous.map((config) => config.kernelName)
  }

  /**
   * Replaces wasm's kernel `name` with the one `make` returns. Its `fallback` runs the kernel registered before,
   * after that kernel's setup (ours may be registered after the backend started, so the setup has not run for it).
   *
   * @param name - a kernel name
   * @param make - builds the new kernel from the fallback
   * @returns false, changing nothing, when no kernel of that name is registered on wasm
   */
  replace(name: string, make: (fallback: KernelFunc) => KernelFunc): boolean {
    const previous = getKernel(name, 'wasm')
    if (previous === undefined) return false
    let previousReady = false
    const fallback: KernelFunc = (args) => {
      if (!previousReady) previous.setupFunc?.(args.backend)
      previousReady = true
      return previous.kernelFunc(args)
    }
    const kernelFunc = make(fallback)
    unregisterKernel(name, 'wasm')
    registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc })
    this.previous.push(previous)
    return true
  }

  /** Puts back every kernel replaced, the last one first. */
  restore(): void {
    for (const config of this.previous.splice(0).reverse()) {
      unregisterKernel(config.kernelName, 'wasm')
      registerKernel(config)
    }
  }
}
