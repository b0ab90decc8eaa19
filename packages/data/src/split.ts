import { checkOption } from './errors'
import { createRng, shuffleInPlace } from './rng'

/** Anything with a coverage class (TGS samples, or your own records). */
export interface Stratifiable {
  coverageClass: number
}

/** Options of {@link stratifiedSplit}. */
export interface SplitOptions<T> {
  /** Share of samples for validation, in (0, 1). Default 0.2. */
  validationFraction?: number
  /** Seed: the same seed and samples give the same split. Default 0. */
  seed?: number
  /** What to stratify by. Default: the sample's `coverageClass`, else the coverage class of its `mask` (see {@link coverageClass}). */
  stratifyBy?: (sample: T) => number | string
}

function defaultKey(s: unknown): number | string {
  const r = s as Partial<Stratifiable> & { mask?: ArrayLike<number> }
  if (typeof r.coverageClass === 'number') return r.coverageClass
  // Samples with a mask are binned by its coverage, the TGS way.
  if (r.mask !== undefined) return coverageClass(maskCoverage(r.mask))
  checkOption(false, 'stratified splits need a key: samples without coverageClass or mask need { stratifyBy: (s) => … }')
  return 0
}

function groupByKey<T>(samples: readonly T[], key: (s: T) => number | string, seed: number): T[][] {
  const groups = new Map<number | string, T[]>()
  for (const s of samples) {
    const k = key(s)
    const list = groups.get(k)
    if (list) list.push(s)
    else groups.set(k, [s])
  }
  const random = createRng(seed)
  const keys = [...groups.keys()].sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0))
  return keys.map((k) => shuffleInPlace(groups.get(k)!, random))
}

/**
 * Splits samples into train and validation so that every stratum (by default
 * the coverage class) is in the same proportion in both, like scikit-learn's
 * `train_test_split(..., stratify=...)`. Seeded and reproducible.
 *
 * @param samples - samples with a `coverageClass`, or any with `stratifyBy`
 * @param options - `validationFraction` (0.2), `seed` (0), `stratifyBy`
 * @returns `{ train, validation }`, disjoint, together all samples
 * @example
 * ```ts
 * const { train, validation } = stratifiedSplit(samples, { validationFraction: 0.2, seed: 1 })
 * ```
 */
export function stratifiedSplit<T>(samples: readonly T[], options: SplitOptions<T> = {}): { train: T[]; validation: T[] } {
  const fraction = options.validationFraction ?? 0.2
  checkOption(fraction > 0 && fraction < 1, `validationFraction must be in (0, 1), got ${fraction}`)
  const groups = groupByKey(samples, options.stratifyBy ?? defaultKey, options.seed ?? 0)
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
export interface KFoldOptions<T> {
  /** Number of folds, at least 2. Default 5. */
  folds?: number
  /** Seed. Default 0. */
  seed?: number
  /** What to stratify by. Default: `coverageClass`, else the coverage class of `mask`. */
  stratifyBy?: (sample: T) => number | string
}

/**
 * Stratified k-fold: deals each stratum round-robin over `folds` folds (like
 * scikit-learn's `StratifiedKFold(shuffle=True)`). Fold k's validation set is
 * the k-th part; its train set is all the others.
 *
 * @param samples - samples with a `coverageClass`, or any with `stratifyBy`
 * @param options - `folds` (5), `seed` (0), `stratifyBy`
 * @returns one `{ train, validation }` per fold; the validation sets are disjoint and cover all samples
 * @example
 * ```ts
 * for (const { train, validation } of stratifiedKFold(samples, { folds: 5, seed: 7 })) { ... }
 * ```
 */
export function stratifiedKFold<T>(samples: readonly T[], options: KFoldOptions<T> = {}): Array<{ train: T[]; validation: T[] }> {
  const folds = options.folds ?? 5
  checkOption(Number.isInteger(folds) && folds >= 2, `folds must be an integer ≥ 2, got ${folds}`)
  checkOption(samples.length >= folds, `need at least as many samples as folds (${folds}), got ${samples.length}`)
  const parts: T[][] = Array.from({ length: folds }, () => [])
  // Continue the deal where the previous stratum stopped, so fold sizes differ by at most one.
  let next = 0
  for (const group of groupByKey(samples, options.stratifyBy ?? defaultKey, options.seed ?? 0)) {
    for (const s of group) {
      parts[next]!.push(s)
      next = (next + 1) % folds
    }
  }
  return parts.map((validation, k) => ({ train: parts.filter((_, j) => j !== k).flat(), validation }))
}

/** Options of {@link groupedSplit} and {@link groupedKFold}. */
export interface GroupedOptions<T> {
  /** What keeps samples together: Carvana's car id (`s => s.group`). Default: the sample's `group`, else its `id`. */
  groupBy?: (sample: T) => string | number
  /** Seed. Default 0. */
  seed?: number
}

function groupsOf<T>(samples: readonly T[], options: GroupedOptions<T>): T[][] {
  const key =
    options.groupBy ??
    ((s: T): string | number => {
      const r = s as { group?: string; id?: string }
      checkOption(r.group !== undefined || r.id !== undefined, 'grouped splits need { groupBy: (s) => … } for samples without group or id')
      return r.group ?? r.id!
    })
  const groups = new Map<string | number, T[]>()
  for (const s of samples) {
    const k = key(s)
    const list = groups.get(k)
    if (list) list.push(s)
    else groups.set(k, [s])
  }
  // Sorted before the seeded shuffle, so the split does not depend on the samples' order.
  const keys = [...groups.keys()].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0))
  return shuffleInPlace(keys, createRng(options.seed ?? 0)).map((k) => groups.get(k)!)
}

/**
 * Splits so that no group straddles train and validation (Carvana: the 16
 * views of a car stay together). Whole groups go to validation in a seeded
 * order until it holds about `validationFraction` of the samples.
 *
 * @param samples - the samples
 * @param options - `groupBy`, `validationFraction` (0.2), `seed` (0)
 * @returns `{ train, validation }`, disjoint, together all samples
 * @example
 * ```ts
 * const { train, validation } = groupedSplit(cars, { groupBy: (s) => s.id.slice(0, 12), validationFraction: 0.2 })
 * ```
 */
export function groupedSplit<T>(samples: readonly T[], options: GroupedOptions<T> & { validationFraction?: number } = {}): { train: T[]; validation: T[] } {
  const fraction = options.validationFraction ?? 0.2
  checkOption(fraction > 0 && fraction < 1, `validationFraction must be in (0, 1), got ${fraction}`)
  const groups = groupsOf(samples, options)
  checkOption(groups.length >= 2, `a grouped split needs at least 2 groups, got ${groups.length}`)
  const target = samples.length * fraction
  const train: T[] = []
  const validation: T[] = []
  const taken: T[][] = []
  for (const g of groups) {
    // Take a group while it brings validation closer to the target size.
    if (validation.length < target && Math.abs(validation.length + g.length - target) <= Math.abs(validation.length - target)) {
      validation.push(...g)
      taken.push(g)
    } else train.push(...g)
  }
  // Both sides hold at least one group.
  if (validation.length === 0) validation.push(...train.splice(0, groups[0]!.length)) // all went to train, in group order
  if (train.length === 0) train.push(...validation.splice(validation.length - taken[taken.length - 1]!.length))
  return { train, validation }
}

/**
 * Grouped k-fold: whole groups are dealt to the fold holding the fewest samples so far
 * (largest groups first, ties in seeded order), so no group straddles folds.
 *
 * @param samples - the samples
 * @param options - `groupBy`, `folds` (5), `seed` (0)
 * @returns one `{ train, validation }` per fold
 * @example
 * ```ts
 * const folds = groupedKFold(cars, { groupBy: (s) => s.group!, folds: 4 })
 * ```
 */
export function groupedKFold<T>(samples: readonly T[], options: GroupedOptions<T> & { folds?: number } = {}): Array<{ train: T[]; validation: T[] }> {
  const folds = options.folds ?? 5
  checkOption(Number.isInteger(folds) && folds >= 2, `folds must be an integer ≥ 2, got ${folds}`)
  const groups = groupsOf(samples, options)
  checkOption(groups.length >= folds, `need at least as many groups as folds (${folds}), got ${groups.length}`)
  // Stable sort keeps the seeded order among groups of one size.
  const bySize = groups.map((g, i) => ({ g, i })).sort((a, b) => b.g.length - a.g.length || a.i - b.i)
  const parts: T[][] = Array.from({ length: folds }, () => [])
  for (const { g } of bySize) {
    let best = 0
    for (let k = 1; k < folds; k++) if (parts[k]!.length < parts[best]!.length) best = k
    parts[best]!.push(...g)
  }
  return parts.map((validation, k) => ({ train: parts.filter((_, j) => j !== k).flat(), validation }))
}

/**
 * Share of foreground pixels in a mask, in [0, 1].
 *
 * @param mask - 0/1 pixels (any non-zero counts)
 * @returns foreground pixels / all pixels (0 for an empty array)
 * @example
 * ```ts
 * maskCoverage(new Uint8Array([0, 1, 1, 0])) // 0.5
 * ```
 */
export function maskCoverage(mask: ArrayLike<number>): number {
  if (mask.length === 0) return 0
  let on = 0
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) on++
  return on / mask.length
}

/**
 * The coverage class `ceil(coverage × 10)`: 0 for an empty mask, 1 for up to
 * 10 %, …, 10 for more than 90 %. What splits are stratified by.
 *
 * @param coverage - foreground share in [0, 1]
 * @returns an integer 0 … 10
 * @example
 * ```ts
 * coverageClass(0.001) // 1
 * ```
 */
export function coverageClass(coverage: number): number {
  // A tiny epsilon keeps exact tenths (0.3 computed as 0.30000000000000004) in their own class.
  return Math.min(10, Math.max(0, Math.ceil(coverage * 10 - 1e-9)))
}
