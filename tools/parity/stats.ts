/** Mean and sample standard deviation (n − 1). */
export function meanSd(xs: readonly number[]): { n: number; mean: number; sd: number } {
  const n = xs.length
  const mean = xs.reduce((a, b) => a + b, 0) / n
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : NaN
  return { n, mean, sd }
}

/** Two-sided 95% quantiles of Student's t (t₀.₉₇₅) for 1…30 degrees of freedom. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042]

/** t₀.₉₇₅ for `df` degrees of freedom (1.96 beyond the table). */
export function t975(df: number): number {
  if (!(df >= 1)) throw new Error(`t975: need at least 1 degree of freedom, got ${df}`)
  return T975[Math.floor(df) - 1] ?? 1.96
}

/** A mean with its 95% confidence interval. */
export interface Interval {
  n: number
  mean: number
  sd: number
  low: number
  high: number
}

/** Mean of `a[i] − b[i]` with its 95% t interval (paired samples, at least 2). */
export function pairedDifference(a: readonly number[], b: readonly number[]): Interval {
  if (a.length !== b.length || a.length < 2) throw new Error(`pairedDifference: need two equally long samples of at least 2, got ${a.length} and ${b.length}`)
  const d = meanSd(a.map((x, i) => x - (b[i] as number)))
  const half = (t975(d.n - 1) * d.sd) / Math.sqrt(d.n)
  return { ...d, low: d.mean - half, high: d.mean + half }
}
