/**
 * A tiny WebAssembly assembler: LEB128 encoders, sections and the instructions our SIMD loops use, so that
 * `simd.ts` and `winograd.ts` build their modules from opcodes at run time (no binary in the repository).
 */

export const I32 = 0x7f
export const V128 = 0x7b

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}

/** Signed LEB128 for small constants. */
export function sleb(n: number): number[] {
  const out: number[] = []
  for (;;) {
    const byte = n & 0x7f
    n >>= 7
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte)
      return out
    }
    out.push(byte | 0x80)
  }
}

export const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body]
export const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()]
export const name = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))]

// Instructions.
export const get = (i: number) => [0x20, ...uleb(i)]
export const set = (i: number) => [0x21, ...uleb(i)]
export const tee = (i: number) => [0x22, ...uleb(i)]
export const i32 = (n: number) => [0x41, ...sleb(n)]
export const add = [0x6a]
export const sub = [0x6b]
export const eqz = [0x45]
export const ltU = [0x49]
export const brIf = (depth: number) => [0x0d, ...uleb(depth)]
export const block = [0x02, 0x40]
export const loop = [0x03, 0x40]
export const end = [0x0b]
export const load = [0xfd, 0x00, 0x00, 0x00] // v128.load align=1 offset=0
export const store = [0xfd, 0x0b, 0x00, 0x00] // v128.store align=1 offset=0
export const fadd = [0xfd, ...uleb(228)] // f32x4.add
export const fsub = [0xfd, ...uleb(229)] // f32x4.sub
export const fmul = [0xfd, ...uleb(230)] // f32x4.mul
export const shl = [0x74]
export const call = (f: number) => [0x10, ...uleb(f)]
export const divU = [0x6e]
export const remU = [0x70]
export const mul = [0x6c]
/** i8x16.shuffle picking four f32 lanes (0–3 from the first operand, 4–7 from the second). */
export const shuffle = (lanes: number[]) => [0xfd, 0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])]
/** local += 16 */
export const step16 = (i: number) => [...get(i), ...i32(16), ...add, ...set(i)]

/**
 * The loop nest shared by all four functions: for rows (param `rowsParam`, counted down), reset the
 * per-channel pointers, then run `inner` c4 times with channel counter `j`.
 */
export function rowsLoop(rowsParam: number, c4Param: number, j: number, reset: number[], inner: number[]): number[] {
  return [
    ...block,
    ...get(rowsParam),
    ...eqz,
    ...brIf(0),
    ...loop,
    ...reset,
    ...i32(0),
    ...set(j),
    ...loop,
    ...inner,
    ...get(j),
    ...i32(1),
    ...add,
    ...tee(j),
    ...get(c4Param),
    ...ltU,
    ...brIf(0),
    ...end,
    ...get(rowsParam),
    ...i32(1),
    ...sub,
    ...tee(rowsParam),
    ...brIf(0),
    ...end,
    ...end,
  ]
}

export function body(locals: Array<[number, number]>, code: number[]): number[] {
  const content = [...vec(locals.map(([count, type]) => [...uleb(count), type])), ...code, ...end]
  return [...uleb(content.length), ...content]
}

/**
 * A module that imports `env.memory` (shared, for the threaded build, with a 4 GiB maximum) and exports the
 * given functions, all of whose parameters are i32; `body` is each function's encoded body (see {@link body}).
 */
export function assemble(shared: boolean, functions: Array<{ name: string; params: number; body: number[] }>): Uint8Array<ArrayBuffer> {
  const type = (params: number) => [0x60, ...uleb(params), ...Array<number>(params).fill(I32), 0x00]
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(functions.map((f) => type(f.params)))),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...(shared ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00])]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(functions.map((f) => f.body))),
  ]
  return new Uint8Array(bytes)
}
