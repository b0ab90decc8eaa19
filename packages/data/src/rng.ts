/** A source of uniform random numbers in [0, 1), like `Math.random`. */
export type Random = () => number

/**
 * The seeded generator of the toolkit: call it (or `.next()`) for a uniform
 * number in [0, 1). Its whole state is one 32-bit integer, so a checkpoint can
 * store `rng.state` and a resumed run draws exactly what an uninterrupted one would.
 */
export interface Rng {
  (): number
  /** A float in [0, 1) (the same as calling the generator). */
  next(): number
  /** An integer in [0, n). */
  int(n: number): number
  /** The state to store; `createRng(0, state)` continues from it. */
  readonly state: number
}

/**
 * Creates the seeded generator (mulberry32 over a hashed seed): the same seed
 * gives the same sequence on every platform, in node and in the browser.
 *
 * @param seed - any integer (or a string, hashed)
 * @param state - a stored `rng.state` to continue from instead of the seed
 * @returns the generator
 * @example
 * ```ts
 * const rng = createRng(42)
 * const a = rng()          // same value on every run
 * const saved = rng.state  // store it…
 * createRng(0, saved)()    // …and continue where it stopped
 * ```
 */
export function createRng(seed: number | string = 0, state?: number): Rng {
  let s = state === undefined ? mixSeed(typeof seed === 'string' ? hashString(seed) : seed) >>> 0 : state >>> 0
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const rng = next as Rng
  Object.defineProperties(rng, {
    next: { value: next },
    int: { value: (n: number) => Math.floor(next() * n) },
    state: { get: () => s },
  })
  return rng
}

/**
 * Derives a seed for a sub-stream (run seed, purpose, epoch, index, …) so
 * streams do not overlap: every epoch's order and every sample's augmentation
 * is a pure function of where it sits, which is what lets a run resume mid-epoch.
 *
 * @param parts - the integers to mix
 * @returns a 32-bit seed
 * @example
 * ```ts
 * const rng = createRng(deriveSeed(42, epoch, index))
 * ```
 */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9
  for (const p of parts) h = mixSeed(h ^ Math.floor(p) ^ Math.floor(p / 4294967296))
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

/**
 * A standard normal draw (Box–Muller).
 *
 * @param random - the generator
 * @returns a draw from N(0, 1)
 * @example
 * ```ts
 * const noise = 0.05 * gaussian(createRng(1))
 * ```
 */
export function gaussian(random: Random): number {
  let u = random()
  while (u <= 1e-12) u = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
}

/**
 * A uniform draw in [lo, hi).
 *
 * @param random - the generator
 * @param lo - lower end
 * @param hi - upper end
 * @returns the draw
 * @example
 * ```ts
 * uniform(createRng(1), -5, 5)
 * ```
 */
export function uniform(random: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * random()
}

/**
 * Fisher–Yates shuffle in place.
 *
 * @param items - what to shuffle (modified)
 * @param random - the generator
 * @returns `items`
 * @example
 * ```ts
 * shuffleInPlace([0, 1, 2, 3], createRng(7))
 * ```
 */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = items[i] as T
    items[i] = items[j] as T
    items[j] = t
  }
  return items
}

/**
 * A shuffled copy of `items`, a pure function of `seed`.
 *
 * @param items - what to shuffle
 * @param seed - the seed
 * @returns a new array
 * @example
 * ```ts
 * const order = seededShuffle([0, 1, 2, 3], 7)
 * ```
 */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  return shuffleInPlace(items.slice(), createRng(seed))
}
