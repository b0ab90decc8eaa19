import { writeSyntheticTgs } from '@unet/data-tgs'
import { TrainerError } from './errors'

/** Options of {@link synth}. */
export interface SynthOptions {
  /** Folder to write the Kaggle layout into. */
  out: string
  /** Train images. */
  count: number
  /** Test images. */
  testCount: number
  /** Seed. */
  seed: number
}

/**
 * Writes the synthetic TGS-like dataset to disk in the Kaggle layout
 * (`train/images`, `train/masks`, `test/images`, `train.csv`, `depths.csv`).
 *
 * @param options - folder, counts, seed
 * @returns the options written
 * @example
 * ```ts
 * await synth({ out: 'data/synthetic', count: 400, testCount: 100, seed: 1 })
 * ```
 */
export async function synth(options: SynthOptions): Promise<SynthOptions> {
  try {
    await writeSyntheticTgs(options.out, { trainCount: options.count, testCount: options.testCount, seed: options.seed })
  } catch (cause) {
    throw new TrainerError('WRITE_FAILED', `could not write the synthetic dataset to ${options.out}: ${(cause as Error).message}`, { cause })
  }
  return options
}
