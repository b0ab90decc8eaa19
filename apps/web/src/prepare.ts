// The ONE place where the page (and its tests' Node-side reference) brings an image to the model's size, maps
// probabilities back to the image's size, and encodes PNGs. Prediction in the browser equals `unet predict`'s
// only if both use the same functions, so nothing else in apps/web may resize, pad or crop.
//
// TEMPORARY STAND-IN: @unet/data/browser (prepareImage, restoreProbabilities, encodePng) is being written on
// another branch. Until it is merged into main, this module implements the same contract minimally (bilinear
// only; bicubic and area are refused with a clear message). After the merge, the bodies below are replaced by
// re-exports from '@unet/data/browser', keeping these signatures for the rest of apps/web.

/** How an image reaches the model's size (run.json `prepare`, plus the model's width × height). */
export interface PrepareSpec {
  width: number
  height: number
  mode: 'resize' | 'pad' | 'letterbox'
  pad?: 'reflect' | 'constant'
  interpolation?: 'bilinear' | 'bicubic' | 'area'
}

/** An image as values in [0, 1], row-major, channels interleaved (H × W × C). */
export interface ImagePixels {
  data: Float32Array
  width: number
  height: number
  channels: number
}

/** A size in pixels. */
export interface Size {
  width: number
  height: number
}

/** Preparing or restoring cannot be done; the message says why and what to do. */
export class PrepareError extends Error {
  override readonly name = 'PrepareError'
  readonly code: 'UNSUPPORTED' | 'DOES_NOT_FIT' | 'CHANNELS'
  constructor(code: PrepareError['code'], message: string) {
    super(message)
    this.code = code
  }
}

function checkInterpolation(spec: PrepareSpec): void {
  const interpolation = spec.interpolation ?? 'bilinear'
  if (interpolation !== 'bilinear') {
    throw new PrepareError('UNSUPPORTED', `interpolation '${interpolation}' is not available in the page yet (bilinear only); predict with unet predict instead`)
  }
}

/** Half-pixel-centred bilinear resize of an H × W × C image (OpenCV / tf `halfPixelCenters`). */
function resizeBilinear(src: Float32Array, from: Size, to: Size, channels: number): Float32Array {
  const out = new Float32Array(to.width * to.height * channels)
  const axis = (n: number, m: number) => {
    const i0 = new Int32Array(m)
    const i1 = new Int32Array(m)
    const w = new Float32Array(m)
    const scale = n / m
    for (let o = 0; o < m; o++) {
      const s = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), n - 1)
      const f = Math.floor(s)
      i0[o] = f
      i1[o] = Math.min(f + 1, n - 1)
      w[o] = s - f
    }
    return { i0, i1, w }
  }
  const ys = axis(from.height, to.height)
  const xs = axis(from.width, to.width)
  const rowStride = from.width * channels
  for (let y = 0; y < to.height; y++) {
    const r0 = ys.i0[y]! * rowStride
    const r1 = ys.i1[y]! * rowStride
    const wy = ys.w[y]!
    for (let x = 0; x < to.width; x++) {
      const c0 = xs.i0[x]! * channels
      const c1 = xs.i1[x]! * channels
      const wx = xs.w[x]!
      const o = (y * to.width + x) * channels
      for (let c = 0; c < channels; c++) {
        const top = src[r0 + c0 + c]! + (src[r0 + c1 + c]! - src[r0 + c0 + c]!) * wx
        const bottom = src[r1 + c0 + c]! + (src[r1 + c1 + c]! - src[r1 + c0 + c]!) * wx
        out[o + c] = top + (bottom - top) * wy
      }
    }
  }
  return out
}

/** Mirror index into [0, n) without repeating the edge (numpy 'reflect'). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0
  const period = 2 * (n - 1)
  let m = i % period
  if (m < 0) m += period
  return m < n ? m : period - m
}

/** Places an image centred in a `to`-sized canvas, filling the border by reflection or with 0. */
function padCentred(src: Float32Array, from: Size, to: Size, channels: number, pad: 'reflect' | 'constant'): Float32Array {
  const top = Math.floor((to.height - from.height) / 2)
  const left = Math.floor((to.width - from.width) / 2)
  const out = new Float32Array(to.width * to.height * channels)
  for (let y = 0; y < to.height; y++) {
    let sy = y - top
    if (sy < 0 || sy >= from.height) {
      if (pad === 'constant') continue
      sy = reflect(sy, from.height)
    }
    for (let x = 0; x < to.width; x++) {
      let sx = x - left
      if (sx < 0 || sx >= from.width) {
        if (pad === 'constant') continue
        sx = reflect(sx, from.width)
      }
      const s = (sy * from.width + sx) * channels
      const o = (y * to.width + x) * channels
      for (let c = 0; c < channels; c++) out[o + c] = src[s + c]!
    }
  }
  return out
}

/** The centred `inner`-sized part of a one-channel `from`-sized map (the inverse of {@link padCentred}). */
function cropCentred(src: Float32Array, from: Size, inner: Size): Float32Array {
  const top = Math.floor((from.height - inner.height) / 2)
  const left = Math.floor((from.width - inner.width) / 2)
  const out = new Float32Array(inner.width * inner.height)
  for (let y = 0; y < inner.height; y++) out.set(src.subarray((y + top) * from.width + left, (y + top) * from.width + left + inner.width), y * inner.width)
  return out
}

/** The size an image is resized to before letterbox padding: the largest that fits, keeping the aspect ratio. */
export function letterboxSize(image: Size, model: Size): Size {
  const scale = Math.min(model.width / image.width, model.height / image.height)
  return {
    width: Math.min(model.width, Math.max(1, Math.round(image.width * scale))),
    height: Math.min(model.height, Math.max(1, Math.round(image.height * scale))),
  }
}

/**
 * Brings an image to the model's input: `channels` (grey → RGB repeats the channel; RGB → grey is refused),
 * then `spec.width × spec.height` by resize, centred padding, or letterbox (resize keeping the aspect ratio,
 * then pad).
 *
 * @param image - values in [0, 1], H × W × C
 * @param input - the model's input size and channels
 * @param spec - mode, pad, interpolation
 * @returns `input.height × input.width × input.channels` values
 * @throws {PrepareError} `CHANNELS` for RGB into a grey model, `DOES_NOT_FIT` for pad mode with a larger image
 * @example
 * ```ts
 * const x = prepareImage(image, { width: 128, height: 128, channels: 1 }, { width: 128, height: 128, mode: 'pad', pad: 'reflect' })
 * ```
 */
export function prepareImage(image: ImagePixels, input: Size & { channels: number }, spec: PrepareSpec): Float32Array {
  checkInterpolation(spec)
  let data = image.data
  if (image.channels !== input.channels) {
    if (image.channels !== 1 || input.channels !== 3) {
      throw new PrepareError('CHANNELS', `the model takes ${input.channels === 1 ? 'grey' : `${input.channels}-channel`} images and this one has ${image.channels} channels; give it a greyscale image`)
    }
    data = new Float32Array(image.width * image.height * 3)
    for (let i = 0, n = image.width * image.height; i < n; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = image.data[i]!
  }
  const from = { width: image.width, height: image.height }
  const to = { width: input.width, height: input.height }
  const pad = spec.pad ?? 'reflect'
  if (spec.mode === 'resize') return resizeBilinear(data, from, to, input.channels)
  if (spec.mode === 'pad') {
    if (from.width > to.width || from.height > to.height) {
      throw new PrepareError('DOES_NOT_FIT', `pad mode cannot fit a ${from.width}×${from.height} image into the model's ${to.width}×${to.height}; use a run trained with resize or letterbox`)
    }
    return padCentred(data, from, to, input.channels, pad)
  }
  const inner = letterboxSize(from, to)
  return padCentred(resizeBilinear(data, from, inner, input.channels), inner, to, input.channels, pad)
}

/**
 * Maps a model-size probability map back to the original image's size: the exact inverse of
 * {@link prepareImage}'s geometry (bilinear resize back, crop the padding, or crop then resize back).
 *
 * @param probabilities - `spec.height × spec.width` values
 * @param original - the image's size
 * @param spec - as given to {@link prepareImage}
 * @returns `original.height × original.width` values
 * @example
 * ```ts
 * const p = restoreProbabilities(modelProbs, { width: 101, height: 101 }, spec)
 * ```
 */
export function restoreProbabilities(probabilities: Float32Array, original: Size, spec: PrepareSpec): Float32Array {
  checkInterpolation(spec)
  const model = { width: spec.width, height: spec.height }
  if (spec.mode === 'resize') return resizeBilinear(probabilities, model, original, 1)
  if (spec.mode === 'pad') return cropCentred(probabilities, model, original)
  const inner = letterboxSize(original, model)
  return resizeBilinear(cropCentred(probabilities, model, inner), inner, original, 1)
}

/**
 * Encodes an 8-bit greyscale image as PNG.
 *
 * @param pixels - `height × width` bytes, row-major
 * @param size - width and height
 * @returns the PNG file
 * @example
 * ```ts
 * const png = await encodePng(maskBytes, { width: 101, height: 101 })
 * ```
 */
export async function encodePng(pixels: Uint8Array, size: Size): Promise<Blob> {
  // stand-in: the browser's own encoder through a canvas (greyscale as RGBA); @unet/data's encodePng replaces it
  const canvas = new OffscreenCanvas(size.width, size.height)
  const context = canvas.getContext('2d')!
  const rgba = new ImageData(size.width, size.height)
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i]!
    rgba.data[4 * i] = rgba.data[4 * i + 1] = rgba.data[4 * i + 2] = v
    rgba.data[4 * i + 3] = 255
  }
  context.putImageData(rgba, 0, 0)
  return canvas.convertToBlob({ type: 'image/png' })
}
