import { RleError } from './errors'

/**
 * The order in which pixels are numbered for run-length encoding.
 *
 * - `'column-major'`: top to bottom, then left to right (Kaggle TGS Salt; the default).
 * - `'row-major'`: left to right, then top to bottom (Kaggle Carvana and most other competitions).
 *
 * Either way masks themselves are stored row-major, like image pixels; the order only changes how
 * pixels are numbered in the RLE string.
 */
export type PixelOrder = 'column-major' | 'row-major'

/** The size of a mask in pixels. */
export interface MaskShape {
  /** Number of rows. */
  readonly height: number
  /** Number of columns. */
  readonly width: number
}

/** Options shared by {@link encode} and {@link decode}. */
export interface RleOptions {
  /** How pixels are numbered; `'column-major'` (Kaggle TGS) when left out. */
  readonly order?: PixelOrder
}

/** @internal Checks a shape and returns its pixel count. */
export function pixelCount(shape: MaskShape): number {
  const { height, width } = shape ?? ({} as Partial<MaskShape>)
  if (!Number.isSafeInteger(height) || !Number.isSafeInteger(width) || height < 1 || width < 1) {
    throw new RleError(
      'INVALID_SHAPE',
      `Invalid mask shape ${JSON.stringify(shape)}: height and width must be positive integers ` +
        `(e.g. { height: 101, width: 101 } for TGS Salt).`,
    )
  }
  return height * width
}

/** @internal Checks a pixel order, filling in the default. */
export function pixelOrder(order: PixelOrder | undefined): PixelOrder {
  if (order === undefined || order === 'column-major') return 'column-major'
  if (order === 'row-major') return 'row-major'
  throw new RleError(
    'INVALID_ORDER',
    `Invalid pixel order ${JSON.stringify(order)}: use 'column-major' (Kaggle TGS, the default) or 'row-major' (Carvana).`,
  )
}

/** @internal Allocates a mask buffer, turning the engine's untyped `RangeError` for a huge shape into an {@link RleError}. */
export function allocateMask(n: number, shape: MaskShape): Uint8Array<ArrayBuffer> {
  try {
    return new Uint8Array(n)
  } catch (cause) {
    if (!(cause instanceof RangeError)) throw cause
    throw new RleError(
      'MASK_TOO_LARGE',
      `Cannot hold a ${shape.height}×${shape.width} mask (${n} pixels) in memory (${cause.message}): check the shape; ` +
        `a Carvana photo is { height: 1280, width: 1918 }.`,
      { cause },
    )
  }
}
