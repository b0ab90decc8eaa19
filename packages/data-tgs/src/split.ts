import { checkOption } from './errors'
import { seededRandom, shuffleInPlace } from './random'

/** Anything with a coverage class (TGS samples, or your own records). */
export interface Stratifiable {
  coverageClass: number
}

/** Options of {@link stratifiedSplit}. */
export interface SplitOptions {
  /** Share of samples for validation, in (0, 1). Default 0.2. */
  validationFraction?: number
  /** Seed: the same seed and samples give the same split. Default 0. */
  seed?: number
}

function groupByClass<T extends Stratifiable>(samples: readonly T[], seed: number): T[][] {
  const groups = new Map<number, T[]>()
  for (const s of samples) {
    const list = groups.get(s.coverageClass)
    if (list) list.push(s)
    else groups.set(s.coverageClass, [s])
  }
  const random = seededRandom(seed)
  return [...groups.keys()].sort((a, b) => a - b).map((k) => shuffleInPlace(groups.get(k)!, random))
}

/**
 * Splits samples into train and validation so that every coverage class is
 * represented in the same proportion in both (like scikit-learn's
 * `train_test_split(..., stratify=coverage_class)`). Seeded and reproducible:
 * the same samples in the same order with the same seed give the same split.
 *
 * @param samples - samples with a `coverageClass`
 * @param options - `validationFraction` (default 0.2) and `seed` (default 0)
 * @returns `{ train, validation }`, disjoint, together all samples
 * @example
 * ```ts
 * const { train, validation } = stratifiedSplit(dataset.train, { validationFraction: 0.2, seed: 1 })
 * ```
 */
export function stratifiedSplit<T extends Stratifiable>(
  samples: readonly T[],
  options: SplitOptions = {},
): { train: T[]; validation: T[] } {
  const fraction = options.validationFraction ?? 0.2
  checkOption(fraction > 0 && fraction < 1, `validationFraction must be in (0, 1), got ${fraction}`)
  const groups = groupByClass(samples, options.seed ?? 0)
  const train: T[] = []
  const validation: T[] = []
  // Largest-remainder rounding keeps the total validation size at round(n × fraction).
  const target = Math.round(samples.length * fraction)
  const exact = groups.map((g) => g.length * fraction)
  const counts = exact.map(Math.floor)
  let left = target - counts.reduce((a, b) => a + b, 0)
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1])
  for (const [, i] of order) {
    if (left <= 0) break
    if (counts[i]! < groups[i]!.length) {
      counts[i]!++
      left--
    }
  }
  groups.forEach((g, i) => {
    validation.push(...g.slice(0, counts[i]))
    train.push(...g.slice(counts[i]))
  })
  return { train, validation }
}

/** Options of {@link stratifiedKFold}. */
export interface KFoldOptions {
  /** Number of folds, at least 2. Default 5. */
  folds?: number
  /** Seed. Default 0. */
  seed?: number
}

/**
 * Stratified k-fold: deals each coverage class round-robin over `folds` folds
 * (like scikit-learn's `StratifiedKFold(shuffle=True)`). Fold `k`'s validation
 * set is the k-th part; its train set is all the others.
 *
 * @param samples - samples with a `coverageClass`
 * @param options - `folds` (default 5) and `seed` (default 0)
 * @returns one `{ train, validation }` per fold; the validation sets are disjoint and cover all samples
 * @example
 * ```ts
 * for (const [k, { train, validation }] of stratifiedKFold(samples, { folds: 5, seed: 7 }).entries()) { ... }
 * ```
 */
export function stratifiedKFold<T extends Stratifiable>(
  samples: readonly T[],
  options: KFoldOptions = {},
): Array<{ train: T[]; validation: T[] }> {
  const folds = options.folds ?? 5
  checkOption(Number.isInteger(folds) && folds >= 2, `folds must be an integer ≥ 2, got ${folds}`)
  checkOption(samples.length >= folds, `need at least as many samples as folds (${folds}), got ${samples.length}`)
  const parts: T[][] = Array.from({ length: folds }, () => [])
  // Continue the deal where the previous class stopped, so fold sizes differ by at most one.
  let next = 0
  for (const group of groupByClass(samples, options.seed ?? 0)) {
    for (const s of group) {
      parts[next]!.push(s)
      next = (next + 1) % folds
    }
  }
  return parts.map((validation, k) => ({ train: parts.filter((_, j) => j !== k).flat(), validation }))
}
