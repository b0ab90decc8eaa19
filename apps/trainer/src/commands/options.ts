import { InvalidArgumentError, Option } from 'commander'

/** A commander parser of integers ≥ `min`. */
export function int(min: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer ≥ ${min}`)
    return n
  }
}

/** A commander parser of finite numbers passing `check`. */
export function num(check: (n: number) => boolean, what: string) {
  return (value: string): number => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`must be ${what}`)
    return n
  }
}

/** `auto` or a probability in (0, 1). */
export function threshold(value: string): 'auto' | number {
  if (value === 'auto') return 'auto'
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError('must be auto or a probability between 0 and 1')
  return n
}

/** The --backend option every command shares. */
export const backendOption = (): Option =>
  new Option('--backend <name>', 'tfjs backend: auto picks the fastest present (env UNET_BACKEND overrides auto)').choices(['auto', 'tensorflow', 'wasm', 'cpu'])
