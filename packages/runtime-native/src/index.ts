import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/**
 * The oneDNN addon: convolutions, training-mode batch normalization, ReLU, and per-channel bias adds and
 * sums. Activations are NHWC and filters HWIO float32 (tfjs's layouts), in typed
 * arrays the caller owns — views of the tfjs wasm heap included, also when that heap is a SharedArrayBuffer —
 * so nothing is copied on the way in or out.
 */
export interface NativeConv {
  /**
   * One convolution. `op` 0: `out = y` from `a = x`, `b = filter`; 1: `out = dx` from `a = dy`, `b = filter`;
   * 2: `out = dfilter` from `a = x`, `b = dy`. `geometry` is that of the forward convolution:
   * `[N, H, W, inC, outH, outW, outC, kH, kW, strideH, strideW, padTop, padLeft, padBottom, padRight]`.
   * For op 0 only, `bias` (one float per output channel, or null) is added and `relu` applied in the same
   * pass, as oneDNN post-ops: `out = max(0, conv(x, filter) + bias)` (tfjs's `FusedConv2D`).
   * Throws when a buffer is smaller than the geometry needs or oneDNN rejects the geometry.
   */
  conv(
    op: 0 | 1 | 2,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    geometry: readonly number[],
    bias?: Float32Array | null,
    relu?: boolean,
  ): void
  /**
   * Batch normalization in training mode over N, H and W of an NHWC tensor of `shape` `[N, H, W, C]`:
   * `y = scale · (x − mean) / √(variance + epsilon) + shift`, with the batch's mean and biased variance (the
   * mean of squared deviations, as tfjs's `moments` computes it) written to `mean` and `variance`.
   * With a `workspace` (a Float32Array of {@link NativeConv.batchNormReluWorkspace} floats), a ReLU follows in
   * the same pass (`y = max(0, …)`, oneDNN's `fuse_norm_relu`) and the workspace records which outputs it kept,
   * for {@link NativeConv.batchNormBackward}.
   * Throws when a buffer is smaller than the shape needs.
   */
  batchNormForward(
    x: Float32Array,
    scale: Float32Array,
    shift: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    shape: readonly number[],
    epsilon: number,
    workspace?: Float32Array | null,
  ): void
  /**
   * The gradients of {@link NativeConv.batchNormForward}'s `y` for `dy`: `dx` (through the batch's mean and
   * variance too), `dscale` and `dshift`, from the forward pass's `mean` and `variance`; with the forward
   * pass's `workspace`, those of its ReLU'd `y` (`dy` taken as 0 where the ReLU gave 0).
   */
  batchNormBackward(
    x: Float32Array,
    dy: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    scale: Float32Array,
    dx: Float32Array,
    dscale: Float32Array,
    dshift: Float32Array,
    shape: readonly number[],
    epsilon: number,
    workspace?: Float32Array | null,
  ): void
  /** The length in floats of the workspace that a batch norm with a ReLU of `shape` and `epsilon` needs (1 bit per element here). */
  batchNormReluWorkspace(shape: readonly number[], epsilon: number): number
  /** `y = x <= 0 ? 0 : x` over `y`'s length (as tfjs's wasm ReLU: −0 gives +0, NaN stays NaN), one pass on one thread. */
  relu(x: Float32Array, y: Float32Array): void
  /** `dx = x > 0 ? dy : 0` over `dx`'s length (the ReLU's input gradient as tfjs defines it). */
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void
  /** `y[i] = x[i] + bias[i mod C]` over `y`'s length, `C` = `bias.length` (a channels-last bias add). */
  biasAdd(x: Float32Array, bias: Float32Array, y: Float32Array): void
  /** `out[c]` = the sum of `x[r · C + c]` over every row `r`, `C` = `out.length`, accumulated in double. */
  channelSums(x: Float32Array, out: Float32Array): void
  /** oneDNN's name for the kernel it picks for `op` on `geometry` (e.g. `brgconv:avx512_core`). */
  implementation(op: 0 | 1 | 2, geometry: readonly number[]): string
  /** Sets the number of threads oneDNN's convolutions use (OpenMP; process-wide). */
  setThreads(n: number): void
  /** The number of threads oneDNN's convolutions use now. */
  threads(): number
}

/** Where the install script puts the addon, relative to this file (src/ or dist/). */
const ADDON = '../build/Release/dnnl_conv.node'

let cached: { addon: NativeConv | null; reason: string } | undefined

/**
 * OpenMP threads spin after each convolution by default, waiting for the next; beside wasm's own thread pool
 * that burns the cores the next kernel needs (2-thread training steps took 2–3× the CPU time). libgomp reads
 * `OMP_WAIT_POLICY` once, when it loads with the addon, so it is set before; a value the user set wins.
 * @internal
 */
export function preferPassiveOpenMp(env: Record<string, string | undefined>): void {
  if (env.OMP_WAIT_POLICY === undefined) env.OMP_WAIT_POLICY = 'PASSIVE'
}

function load(): { addon: NativeConv | null; reason: string } {
  let path: string
  try {
    path = fileURLToPath(new URL(ADDON, import.meta.url))
  } catch (error) {
    return { addon: null, reason: `cannot locate the addon (${(error as Error).message})` }
  }
  if (!existsSync(path)) {
    return {
      addon: null,
      reason:
        'the oneDNN addon is not built (install libdnnl-dev and a C++ compiler, then `pnpm rebuild @unet/runtime-native`)',
    }
  }
  preferPassiveOpenMp(process.env)
  try {
    const addon = createRequire(import.meta.url)(path) as NativeConv
    if (typeof addon.conv !== 'function') return { addon: null, reason: `${path} is not the oneDNN conv addon` }
    return { addon, reason: `oneDNN conv addon loaded from ${path}` }
  } catch (error) {
    return { addon: null, reason: `the oneDNN addon failed to load (${String((error as Error).message).split('\n')[0]})` }
  }
}

/**
 * Loads the oneDNN convolution addon that this package's install script built, once per process.
 *
 * @returns the addon, or `null` when it was not built or does not load ({@link nativeConvReason} says why)
 * @example
 * ```ts
 * import { loadNativeConv, nativeConvReason } from '@unet/runtime-native'
 *
 * const conv = loadNativeConv()
 * console.log(conv ? `oneDNN on ${conv.threads()} threads` : `no native convolutions: ${nativeConvReason()}`)
 * ```
 */
export function loadNativeConv(): NativeConv | null {
  cached ??= load()
  return cached.addon
}

/**
 * Why {@link loadNativeConv} returned what it did: where the addon was loaded from, or why it was not.
 *
 * @returns one line
 * @example
 * ```ts
 * import { nativeConvReason } from '@unet/runtime-native'
 *
 * console.log(nativeConvReason()) // 'the oneDNN addon is not built (install libdnnl-dev …)'
 * ```
 */
export function nativeConvReason(): string {
  cached ??= load()
  return cached.reason
}
