/**
 * A small seeded random generator (mulberry32) whose whole state is one
 * 32-bit integer, so a checkpoint can store it and a resumed run can go on
 * drawing exactly the numbers an uninterrupted run would.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number
  /** An integer in [0, n). */
  int(n: number): number
  /** The state to store; `createRng(0, state)` continues from it. */
  readonly state: number
}

/**
 * Creates a seeded generator.
 *
 * @param seed - any integer
 * @param state - a stored `rng.state` to continue from instead of the seed
 * @returns the generator
 * @example
 * ```ts
 * const rng = createRng(42)
 * const a = rng.next()
 * ```
 */
export function createRng(seed: number, state?: number): Rng {
  let s = state ?? mixSeed(seed) >>> 0
  return {
    next() {
      s = (s + 0x6d2b79f5) >>> 0
      let t = s
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    },
    int(n: number) {
      return Math.floor(this.next() * n)
    },
    get state() {
      return s
    },
  }
}

/**
 * Derives one seed from several integers (run seed, purpose, epoch, index), so
 * every epoch's data order and every sample's augmentation is a pure function
 * of where it sits in the run — which is what lets a run resume mid-epoch.
 *
 * @param parts - the integers to mix
 * @returns a 32-bit seed
 * @example
 * ```ts
 * const seed = deriveSeed(42, 1, 3) // run seed 42, purpose 1, epoch 3
 * ```
 */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x01000193) >>> 0
    h = mixSeed(h)
  }
  return h >>> 0
}

function mixSeed(x: number): number {
  let z = (x + 0x9e3779b9) | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/**
 * Shuffles a copy of `items` with a seeded Fisher–Yates.
 *
 * @param items - what to shuffle
 * @param seed - the seed
 * @returns a new shuffled array
 * @example
 * ```ts
 * const order = seededShuffle([0, 1, 2, 3], 7)
 * ```
 */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice()
  const rng = createRng(seed)
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const tmp = out[i] as T
    out[i] = out[j] as T
    out[j] = tmp
  }
  return out
}
