import { PredictError } from './errors'

/** A mask's or image's size in pixels. */
export interface Size {
  readonly width: number
  readonly height: number
}

/** An axis-aligned box in pixels: left column, top row, width and height. */
export interface Box {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

/** A connected component of a mask (8-connected foreground pixels). */
export interface Component {
  /** Pixels in the component. */
  readonly area: number
  /** Its bounding box. */
  readonly box: Box
}

/** How probabilities become a mask. */
export interface PostProcessOptions {
  /** A pixel is foreground when its probability is `> threshold`. */
  readonly threshold: number
  /** Fill holes: background regions that do not reach the border become foreground. Default false. */
  readonly fillHoles?: boolean
  /** Remove components smaller than this many pixels (after filling holes). Default 0 (keep all). */
  readonly minArea?: number
}

function checkSize(length: number, size: Size, what: string): void {
  if (length !== size.width * size.height) {
    throw new PredictError('BAD_OPTION', `${what}: ${length} values do not make a ${size.width}×${size.height} mask`)
  }
}

/**
 * Thresholds probabilities into a 0/1 mask (`> threshold` is foreground; NaN never is).
 *
 * @param probabilities - values in [0, 1]
 * @param threshold - the cut-off
 * @returns the mask
 * @example
 * ```ts
 * binarize(new Float32Array([0.2, 0.7]), 0.5) // Uint8Array [0, 1]
 * ```
 */
export function binarize(probabilities: ArrayLike<number>, threshold: number): Uint8Array {
  const mask = new Uint8Array(probabilities.length)
  for (let i = 0; i < mask.length; i++) if ((probabilities[i] as number) > threshold) mask[i] = 1
  return mask
}

/**
 * Labels the 8-connected foreground components of a mask.
 *
 * @param mask - 0/1 (non-zero is foreground), row-major
 * @param size - its width and height
 * @returns `labels` (0 background, k ≥ 1 the k-th component in reading order) and each component's area and box
 * @example
 * ```ts
 * findComponents(new Uint8Array([1, 0, 0, 1]), { width: 4, height: 1 }).components.length // 2
 * ```
 */
export function findComponents(mask: ArrayLike<number>, size: Size): { labels: Int32Array; components: Component[] } {
  checkSize(mask.length, size, 'findComponents')
  const { width, height } = size
  const labels = new Int32Array(width * height)
  const stack = new Int32Array(width * height)
  const components: Component[] = []
  for (let start = 0; start < labels.length; start++) {
    if (mask[start] === 0 || labels[start] !== 0) continue
    const label = components.length + 1
    let top = 0
    stack[top++] = start
    labels[start] = label
    let area = 0
    let x0 = width
    let y0 = height
    let x1 = -1
    let y1 = -1
    while (top > 0) {
      const p = stack[--top] as number
      const y = (p / width) | 0
      const x = p - y * width
      area++
      if (x < x0) x0 = x
      if (x > x1) x1 = x
      if (y < y0) y0 = y
      if (y > y1) y1 = y
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy
        if (ny < 0 || ny >= height) continue
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx
          if (nx < 0 || nx >= width) continue
          const q = ny * width + nx
          if (mask[q] !== 0 && labels[q] === 0) {
            labels[q] = label
            stack[top++] = q
          }
        }
      }
    }
    components.push({ area, box: { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 } })
  }
  return { labels, components }
}

/**
 * Removes the components smaller than `minArea` pixels.
 *
 * @param mask - 0/1, row-major
 * @param size - its width and height
 * @param minArea - the smallest component kept
 * @returns a new mask
 * @example
 * ```ts
 * removeSmallComponents(new Uint8Array([1, 0, 1, 1]), { width: 4, height: 1 }, 2) // Uint8Array [0, 0, 1, 1]
 * ```
 */
export function removeSmallComponents(mask: ArrayLike<number>, size: Size, minArea: number): Uint8Array {
  const { labels, components } = findComponents(mask, size)
  const out = new Uint8Array(labels.length)
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number
    if (label !== 0 && (components[label - 1] as Component).area >= minArea) out[i] = 1
  }
  return out
}

/**
 * Fills the holes of a mask: background pixels that cannot reach the border through background
 * (4-connected, the complement of 8-connected foreground) become foreground.
 *
 * @param mask - 0/1, row-major
 * @param size - its width and height
 * @returns a new mask
 * @example
 * ```ts
 * fillHoles(new Uint8Array([1, 1, 1, 1, 0, 1, 1, 1, 1]), { width: 3, height: 3 })[4] // 1
 * ```
 */
export function fillHoles(mask: ArrayLike<number>, size: Size): Uint8Array {
  checkSize(mask.length, size, 'fillHoles')
  const { width, height } = size
  const n = width * height
  // 1 = background reached from the border
  const outside = new Uint8Array(n)
  const stack = new Int32Array(n)
  let top = 0
  const seed = (p: number): void => {
    if (mask[p] === 0 && outside[p] === 0) {
      outside[p] = 1
      stack[top++] = p
    }
  }
  for (let x = 0; x < width; x++) {
    seed(x)
    seed((height - 1) * width + x)
  }
  for (let y = 0; y < height; y++) {
    seed(y * width)
    seed(y * width + width - 1)
  }
  while (top > 0) {
    const p = stack[--top] as number
    const y = (p / width) | 0
    const x = p - y * width
    if (x > 0) seed(p - 1)
    if (x < width - 1) seed(p + 1)
    if (y > 0) seed(p - width)
    if (y < height - 1) seed(p + width)
  }
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = outside[i] === 1 ? 0 : 1
  return out
}

/**
 * Probabilities to the final mask: threshold, then fill holes, then remove small components.
 *
 * @param probabilities - at the image's own size, row-major
 * @param size - its width and height
 * @param options - threshold, fillHoles, minArea
 * @returns the 0/1 mask
 * @example
 * ```ts
 * const mask = postProcess(probs, { width: 1918, height: 1280 }, { threshold: 0.5, minArea: 100, fillHoles: true })
 * ```
 */
export function postProcess(probabilities: ArrayLike<number>, size: Size, options: PostProcessOptions): Uint8Array {
  checkSize(probabilities.length, size, 'postProcess')
  let mask = binarize(probabilities, options.threshold)
  if (options.fillHoles === true) mask = fillHoles(mask, size)
  if ((options.minArea ?? 0) > 1) mask = removeSmallComponents(mask, size, options.minArea as number)
  return mask
}

/**
 * The smallest box holding all the given boxes (the union of the components' bounding boxes).
 *
 * @param boxes - boxes
 * @returns their union, or null when there are none
 * @example
 * ```ts
 * unionBox([{ x: 0, y: 0, width: 2, height: 2 }, { x: 5, y: 1, width: 1, height: 3 }]) // { x: 0, y: 0, width: 6, height: 4 }
 * ```
 */
export function unionBox(boxes: readonly Box[]): Box | null {
  if (boxes.length === 0) return null
  let x0 = Infinity
  let y0 = Infinity
  let x1 = -Infinity
  let y1 = -Infinity
  for (const b of boxes) {
    x0 = Math.min(x0, b.x)
    y0 = Math.min(y0, b.y)
    x1 = Math.max(x1, b.x + b.width)
    y1 = Math.max(y1, b.y + b.height)
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
}
