import { RleError } from './errors'
import { type MaskShape, type RleOptions, allocateMask, pixelCount, pixelOrder } from './shape'

// Scratch space reused across calls, so encoding thousands of masks allocates only the output strings.
// Runs are stored as pairs [start, end) of 0-based positions in RLE pixel order.
let runs = new Int32Array(64)
let eventBuffer = new Int32Array(0)
const MAX_KEPT_EVENTS = 1 << 22
let eventCounts = new Int32Array(0)
let stateWords = new Uint32Array(0)
let normalised = new Uint8Array(0)
let text = new Uint8Array(1024)
let ascii: TextDecoder | undefined

function growRuns(pairs: number): void {
  if (runs.length < 2 * pairs) {
    const grown = new Int32Array(Math.max(2 * pairs, 2 * runs.length))
    grown.set(runs)
    runs = grown
  }
}

/**
 * Run-length encodes a binary mask the Kaggle way: space-separated `start length` pairs, pixels numbered
 * from 1, runs sorted and never touching. An empty mask encodes as the empty string.
 *
 * The scan compares four pixels at a time. Byte masks (`Uint8Array`, `Uint8ClampedArray`, Node `Buffer`) are
 * scanned in place; other array types (`Float32Array`, plain arrays …) are first copied to bytes, which costs
 * one more pass.
 *
 * @param mask - height × width values, row-major (like image pixels); any non-zero value is foreground
 * @param shape - the mask's height and width
 * @param options - `order`: how pixels are numbered, `'column-major'` (Kaggle TGS, the default) or `'row-major'`
 * @returns the RLE string, e.g. `'1 3 10 5'`
 * @throws {@link RleError} `MASK_SIZE_MISMATCH` when `mask.length` is not height × width; `INVALID_SHAPE`, `INVALID_ORDER`
 *
 * @example
 * ```ts
 * import { encode } from '@unet/rle'
 * // 2 × 3 mask, row-major:  1 1 0
 * //                         1 0 0
 * encode([1, 1, 0, 1, 0, 0], { height: 2, width: 3 }) // '1 3'  (column-major: pixels 1, 2, 3 are on)
 * encode([1, 1, 0, 1, 0, 0], { height: 2, width: 3 }, { order: 'row-major' }) // '1 2 4 1'
 * ```
 */
export function encode(mask: ArrayLike<number>, shape: MaskShape, options: RleOptions = {}): string {
  const n = pixelCount(shape)
  const order = pixelOrder(options.order)
  const length = mask?.length
  if (length !== n) {
    throw new RleError(
      'MASK_SIZE_MISMATCH',
      `Cannot encode a mask of ${String(length)} values as ${shape.height}×${shape.width} = ${n} pixels: ` +
        `pass the mask row-major with exactly height × width values, or fix the shape.`,
    )
  }
  const bytes = asBytes(mask, n, shape)
  const pairs = order === 'row-major' ? rowRunsOfBytes(bytes, n) : columnRunsOfBytes(bytes, shape.height, shape.width)
  return formatRuns(pairs)
}

/**
 * Byte masks are used as they are; anything else is first copied into a 0/1 byte scratch buffer in one
 * contiguous pass, which is cheaper than reading it with the column-major stride and lets every array type
 * share the four-pixels-at-a-time scan.
 */
function asBytes(mask: ArrayLike<number>, n: number, shape: MaskShape): Uint8Array | Uint8ClampedArray {
  if (mask instanceof Uint8Array || mask instanceof Uint8ClampedArray) return mask
  if (normalised.length < n) normalised = allocateMask(n, shape)
  const out = normalised
  for (let i = 0; i < n; i++) out[i] = mask[i] !== 0 ? 1 : 0
  return out
}

/** Writes the runs as ASCII digits into one buffer and decodes it once: about 4× faster than concatenating strings. */
function formatRuns(pairs: number): string {
  if (pairs === 0) return ''
  const last = runs[2 * pairs - 1] as number
  // Each number takes at most as many digits as the largest end position, plus a separator.
  const room = 2 * pairs * (String(last).length + 1)
  if (text.length < room) text = new Uint8Array(Math.max(room, 2 * text.length))
  let at = 0
  for (let k = 0; k < 2 * pairs; k += 2) {
    const start = runs[k] as number
    if (k > 0) text[at++] = 32
    at = writeDigits(start + 1, at)
    text[at++] = 32
    at = writeDigits((runs[k + 1] as number) - start, at)
  }
  ascii ??= new TextDecoder()
  return ascii.decode(text.subarray(0, at))
}

function writeDigits(value: number, at: number): number {
  let digits = 1
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++
  let end = at + digits
  for (let v = value; end > at; v = Math.floor(v / 10)) text[--end] = 48 + (v % 10)
  return at + digits
}

/**
 * Byte masks, row-major numbering: skips four pixels at a time while they continue the current state
 * (all zero outside a run, all non-zero inside one).
 */
function rowRunsOfBytes(bytes: Uint8Array | Uint8ClampedArray, n: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pairs = 0
  let inRun = false
  let start = 0
  let i = 0
  while (i < n) {
    if (i + 4 <= n) {
      const word = view.getUint32(i, true)
      // (word - 0x01010101) & ~word & 0x80808080 is non-zero exactly when some byte of word is zero.
      if (inRun ? ((word - 0x01010101) & ~word & 0x80808080) === 0 : word === 0) {
        i += 4
        continue
      }
    }
    const on = bytes[i] !== 0
    if (on !== inRun) {
      if (on) {
        start = i
      } else {
        growRuns(pairs + 1)
        runs[2 * pairs] = start
        runs[2 * pairs++ + 1] = i
      }
      inRun = on
    }
    i++
  }
  if (inRun) {
    growRuns(pairs + 1)
    runs[2 * pairs] = start
    runs[2 * pairs++ + 1] = n
  }
  return pairs
}

/**
 * Byte masks, column-major numbering. Walking columns means strided reads, one pixel at a time; instead this
 * walks rows (contiguous, four pixels per comparison) and notes, per column, the rows where the column
 * switches between background and foreground. Runs are then read off column by column, joining a run that
 * ends at the bottom of one column with one that starts at the top of the next.
 */
function columnRunsOfBytes(bytes: Uint8Array | Uint8ClampedArray, height: number, width: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const words = width >>> 2
  const stride = height + 1 // a column switches at most height + 1 times (closing at the bottom included)
  // Kept between calls up to 4 Mi entries (16 MB, e.g. 2048 × 2048 masks); bigger masks get a buffer of their own
  // so one huge mask does not pin its scratch space for the life of the process.
  const events = eventBuffer.length >= width * stride ? eventBuffer : new Int32Array(width * stride)
  if (events.length <= MAX_KEPT_EVENTS) eventBuffer = events
  if (eventCounts.length < width) eventCounts = new Int32Array(width)
  if (stateWords.length < words + 1) stateWords = new Uint32Array(words + 1)
  eventCounts.fill(0, 0, width)
  // The last row's raw values, four columns per word; the 0–3 leftover columns sit in one extra word.
  stateWords.fill(0, 0, words + 1)
  for (let row = 0, rowStart = 0; row < height; row++, rowStart += width) {
    for (let j = 0; j < words; j++) {
      const word = view.getUint32(rowStart + 4 * j, true)
      const previous = stateWords[j] as number
      if (word === previous) continue
      for (let b = 0, col = 4 * j; b < 32; b += 8, col++) {
        if (((word >>> b) & 0xff) === 0 !== (((previous >>> b) & 0xff) === 0)) {
          events[col * stride + (eventCounts[col] as number)] = row
          eventCounts[col] = (eventCounts[col] as number) + 1
        }
      }
      stateWords[j] = word
    }
    let tail = stateWords[words] as number
    for (let col = 4 * words, b = 0; col < width; col++, b += 8) {
      const on = bytes[rowStart + col] !== 0
      if (on !== (((tail >>> b) & 1) === 1)) {
        events[col * stride + (eventCounts[col] as number)] = row
        eventCounts[col] = (eventCounts[col] as number) + 1
        tail ^= 1 << b
      }
    }
    stateWords[words] = tail
  }
  // Close the runs still open at the bottom: a column's event count is odd exactly then.
  let pairs = 0
  let pendingStart = -1
  let pendingEnd = -1
  for (let col = 0, offset = 0; col < width; col++, offset += height) {
    const base = col * stride
    let count = eventCounts[col] as number
    if ((count & 1) === 1) events[base + count++] = height
    for (let e = 0; e < count; e += 2) {
      const start = offset + (events[base + e] as number)
      const end = offset + (events[base + e + 1] as number)
      if (start === pendingEnd) {
        pendingEnd = end
        continue
      }
      if (pendingStart >= 0) {
        growRuns(pairs + 1)
        runs[2 * pairs] = pendingStart
        runs[2 * pairs++ + 1] = pendingEnd
      }
      pendingStart = start
      pendingEnd = end
    }
  }
  if (pendingStart >= 0) {
    growRuns(pairs + 1)
    runs[2 * pairs] = pendingStart
    runs[2 * pairs++ + 1] = pendingEnd
  }
  return pairs
}
