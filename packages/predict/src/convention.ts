import type { PixelOrder } from '@unet/rle'
import type { RunFile } from './run-file'

/** How a submission names images and numbers pixels. */
export interface SubmissionFormat {
  /** The RLE pixel order. */
  readonly order: PixelOrder
  /** The header's id column (`id` for TGS, `img` for Carvana); the mask column is `rle_mask`. */
  readonly idColumn: string
  /** Appended to each image's stem to make its id (`.jpg` for Carvana). */
  readonly idSuffix: string
}

/**
 * The submission format of a run's dataset (run.json's `rle`), with the user's overrides.
 *
 * @param run - the run file
 * @param overrides - `order` (`row` or `column`) and `idColumn`, as `--rle-order` and `--id-column`
 * @returns the format
 * @example
 * ```ts
 * submissionFormat(run, { order: 'row' }) // { order: 'row-major', idColumn: 'img', idSuffix: '.jpg' } for a Carvana run
 * ```
 */
export function submissionFormat(run: Pick<RunFile, 'rle'>, overrides: { order?: 'row' | 'column'; idColumn?: string; idSuffix?: string } = {}): SubmissionFormat {
  const order = overrides.order ?? run.rle.order
  return {
    order: order === 'row' ? 'row-major' : 'column-major',
    idColumn: overrides.idColumn ?? run.rle.idColumn,
    idSuffix: overrides.idSuffix ?? run.rle.idSuffix,
  }
}
