/**
 * Share of salt pixels in a mask, in [0, 1].
 *
 * @param mask - 0/1 pixels (any non-zero counts as salt)
 * @returns salt pixels / all pixels (0 for an empty array)
 * @example
 * ```ts
 * maskCoverage(new Uint8Array([0, 1, 1, 0])) // 0.5
 * ```
 */
export function maskCoverage(mask: ArrayLike<number>): number {
  if (mask.length === 0) return 0
  let salt = 0
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) salt++
  return salt / mask.length
}

/**
 * The TGS coverage class, `ceil(coverage × 10)`: 0 for an empty mask, 1 for any
 * salt up to 10 %, …, 10 for more than 90 %. Used to stratify splits.
 *
 * @param coverage - salt share in [0, 1]
 * @returns an integer 0 … 10
 * @example
 * ```ts
 * coverageClass(0) // 0
 * coverageClass(0.001) // 1
 * coverageClass(1) // 10
 * ```
 */
export function coverageClass(coverage: number): number {
  // A tiny epsilon keeps exact tenths (0.3 computed as 0.30000000000000004) in their own class.
  return Math.min(10, Math.max(0, Math.ceil(coverage * 10 - 1e-9)))
}
