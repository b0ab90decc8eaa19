/** A source of uniform random numbers in [0, 1), like `Math.random`. */
export type Random = () => number

/**
 * A small, fast, seeded generator (mulberry32 over a splitmix-hashed seed):
 * the same seed gives the same sequence on every platform.
 *
 * @param seed - any integer (or a string, hashed)
 * @returns a function returning uniform numbers in [0, 1)
 * @example
 * ```ts
 * const random = seededRandom(42)
 * random() // same value on every run
 * ```
 */
export function seededRandom(seed: number | string): Random {
  let state = mixSeed(typeof seed === 'string' ? hashString(seed) : seed)
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Derives a seed for a sub-stream (`seed`, `epoch`, `index`, …) so streams do not overlap. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9
  for (const p of parts) {
    h = mixSeed(h ^ Math.floor(p) ^ Math.floor(p / 4294967296))
  }
  return h
}

function mixSeed(x: number): number {
  let z = (Math.floor(x) + 0x9e3779b9) | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) | 0
}

function hashString(s: string): number {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h | 0
}

/** A standard normal draw (Box–Muller) from `random`. */
export function gaussian(random: Random): number {
  let u = random()
  while (u <= 1e-12) u = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
}

/** Uniform draw in [lo, hi). */
export function uniform(random: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * random()
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = items[i] as T
    items[i] = items[j] as T
    items[j] = t
  }
  return items
}
