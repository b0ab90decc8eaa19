import { RleError } from './errors'
import { type MaskShape, type RleOptions, allocateMask, pixelCount, pixelOrder } from './shape'

const MAX_SHOWN = 24

function show(token: string): string {
  return JSON.stringify(token.length > MAX_SHOWN ? `${token.slice(0, MAX_SHOWN)}…` : token)
}

function isSpace(code: number): boolean {
  // space, \t, \n, \v, \f, \r
  return code === 32 || (code >= 9 && code <= 13)
}

/**
 * Reads and checks the runs of an RLE string.
 * Returns flat pairs [start0, length0, start1, length1, …] with 0-based starts.
 * `pixels` is the mask size (Infinity when unknown, which skips the run-past-end check).
 *
 * The checks run in three passes so that the first error reported is the root one: a missing token
 * makes every later pair look unsorted, so token syntax and the token count are settled before the
 * runs themselves are compared.
 */
export function readRuns(rle: string, pixels: number): number[] {
  if (typeof rle !== 'string') {
    throw new RleError('NOT_AN_INTEGER', `Expected an RLE string, got ${typeof rle}: pass 'start length …' pairs or '' for an empty mask.`)
  }
  const values: number[] = []
  const offsets: number[] = []
  const n = rle.length
  let i = 0
  while (i < n) {
    let c = rle.charCodeAt(i)
    if (isSpace(c)) {
      i++
      continue
    }
    const begin = i
    let negative = false
    if (c === 45 /* - */) {
      negative = true
      i++
    }
    let value = 0
    let digits = 0
    while (i < n) {
      c = rle.charCodeAt(i)
      if (c < 48 || c > 57) break
      value = value * 10 + (c - 48)
      digits++
      i++
    }
    if (digits === 0 || (i < n && !isSpace(rle.charCodeAt(i)))) {
      let end = i
      while (end < n && !isSpace(rle.charCodeAt(end))) end++
      throw new RleError(
        'NOT_AN_INTEGER',
        `RLE token ${values.length + 1} ${show(rle.slice(begin, end))} at character ${begin} is not an integer: ` +
          `an RLE string holds whole numbers in 'start length' pairs separated by spaces.`,
        { token: values.length + 1, offset: begin },
      )
    }
    values.push(negative ? -value : value)
    offsets.push(begin)
  }

  if (values.length % 2 !== 0) {
    const last = values.length
    throw new RleError(
      'ODD_TOKEN_COUNT',
      `RLE string has ${last} token${last === 1 ? '' : 's'}, an odd count: it must be 'start length' pairs. ` +
        `Token ${last} (${values[last - 1]}, at character ${offsets[last - 1]}) has no length; a token is missing or extra.`,
      { token: last, offset: offsets[last - 1] },
    )
  }

  let previousStart = 0
  let previousEnd = 0 // 1-based last pixel of the previous run; 0 before the first run
  for (let k = 0; k < values.length; k += 2) {
    const start = values[k] as number
    const length = values[k + 1] as number
    const at = { token: k + 1, offset: offsets[k] }
    if (start < 1) {
      throw new RleError(
        'START_BELOW_ONE',
        `RLE run ${k / 2 + 1} (token ${k + 1}, character ${offsets[k]}) starts at pixel ${start}: pixels are numbered from 1.` +
          (start === 0 ? ' Was this written by a 0-based encoder? Add 1 to every start.' : ''),
        at,
      )
    }
    if (length < 1) {
      throw new RleError(
        'LENGTH_BELOW_ONE',
        `RLE run ${k / 2 + 1} (token ${k + 2}, character ${offsets[k + 1]}) has length ${length}: every run covers at least one pixel.`,
        { token: k + 2, offset: offsets[k + 1] },
      )
    }
    const end = start + length - 1
    if (end > pixels) {
      throw new RleError(
        'RUN_PAST_END',
        `RLE run ${k / 2 + 1} '${start} ${length}' (token ${k + 1}, character ${offsets[k]}) covers pixels ${start}–${end}, ` +
          `past the last pixel ${pixels} of the mask: check the mask shape and the pixel order.`,
        at,
      )
    }
    if (start < previousStart) {
      throw new RleError(
        'UNSORTED_RUNS',
        `RLE run ${k / 2 + 1} starting at pixel ${start} (token ${k + 1}, character ${offsets[k]}) comes after a run ` +
          `starting at pixel ${previousStart}: runs must be sorted by start.`,
        at,
      )
    }
    if (start <= previousEnd) {
      throw new RleError(
        'OVERLAPPING_RUNS',
        `RLE run ${k / 2 + 1} starting at pixel ${start} (token ${k + 1}, character ${offsets[k]}) overlaps the previous run, ` +
          `which covers pixels ${previousStart}–${previousEnd}: runs must not share pixels.`,
        at,
      )
    }
    values[k] = start - 1
    previousStart = start
    previousEnd = end
  }
  return values
}

/**
 * Decodes a Kaggle RLE string into a binary mask, refusing anything malformed.
 *
 * Runs that touch (one starting right after the previous one ends) are accepted: the encoder never writes
 * them, but the pixels they describe are unambiguous.
 *
 * @param rle - space-separated `start length` pairs, pixels numbered from 1; `''` for an empty mask
 * @param shape - the mask's height and width
 * @param options - `order`: how pixels are numbered, `'column-major'` (Kaggle TGS, the default) or `'row-major'`
 * @returns height × width values of 0 or 1, row-major
 * @throws {@link RleError} naming the problem and the token's position: `NOT_AN_INTEGER`, `ODD_TOKEN_COUNT`,
 *   `START_BELOW_ONE`, `LENGTH_BELOW_ONE`, `RUN_PAST_END`, `UNSORTED_RUNS`, `OVERLAPPING_RUNS`; and
 *   `INVALID_SHAPE`, `INVALID_ORDER`
 *
 * @example
 * ```ts
 * import { decode } from '@unet/rle'
 * decode('1 3', { height: 2, width: 3 }) // Uint8Array [1, 1, 0, 1, 0, 0]
 * decode('2 2', { height: 2, width: 3 }, { order: 'row-major' }) // Uint8Array [0, 1, 1, 0, 0, 0]
 * ```
 */
export function decode(rle: string, shape: MaskShape, options: RleOptions = {}): Uint8Array {
  const n = pixelCount(shape)
  const order = pixelOrder(options.order)
  const runs = readRuns(rle, n)
  const mask = allocateMask(n, shape)
  if (order === 'row-major') {
    for (let k = 0; k < runs.length; k += 2) {
      const start = runs[k] as number
      mask.fill(1, start, start + (runs[k + 1] as number))
    }
    return mask
  }
  const { height, width } = shape
  for (let k = 0; k < runs.length; k += 2) {
    const start = runs[k] as number
    let remaining = runs[k + 1] as number
    let row = start % height
    let col = (start - row) / height
    let i = row * width + col
    while (remaining-- > 0) {
      mask[i] = 1
      if (++row === height) {
        row = 0
        i = ++col
      } else {
        i += width
      }
    }
  }
  return mask
}

/**
 * Checks an RLE string without decoding it, throwing the same errors as {@link decode}.
 * Without a shape, every rule except "runs past the end of the mask" is checked.
 *
 * @param rle - the RLE string to check
 * @param shape - the mask's height and width, when known
 * @throws {@link RleError} as {@link decode} does
 *
 * @example
 * ```ts
 * import { validateRle } from '@unet/rle'
 * validateRle('1 3 10 2')                          // fine
 * validateRle('1 3 10 2', { height: 3, width: 3 }) // throws RleError RUN_PAST_END
 * ```
 */
export function validateRle(rle: string, shape?: MaskShape): void {
  readRuns(rle, shape === undefined ? Number.POSITIVE_INFINITY : pixelCount(shape))
}
