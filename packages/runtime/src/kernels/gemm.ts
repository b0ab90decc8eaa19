import { setFlagsFromString } from 'node:v8'

import { defineLoopModule, parallelTarget, runParallel } from './parallel'
import { instantiateLoops } from './simd'
import type { WasmBackendLike } from './wasm-backend'
import { add, assemble, block, body, brIf, end, eqz, get, i32, I32, loop, mul, set, sub, tee, uleb, V128 } from './wasm-asm'

/**
 * A float32 GEMM in WebAssembly SIMD for the convolutions' products, C (+)= op(A) · B, run on the calling
 * thread and the helper threads of `parallel.ts` (XNNPACK's own GEMMs run on its thread pool, which takes no
 * outside work, and use a separate multiply and add). Each register tile is MR rows × 8 columns (two 4-lane
 * accumulators per row), over the whole K of a chunk of `kc` (so the chunk of B, [kc, N], stays in cache
 * while the rows go by), with `f32x4.relaxed_madd` — one fused multiply-add on x86 with FMA, twice the
 * arithmetic of a multiply and an add per cycle — where the engine has relaxed SIMD, and a multiply and an
 * add otherwise.
 *
 * Two forms of A, both read by broadcasting one float to 4 lanes:
 * - `nn`: A row-major [M, K], rows `lda` bytes apart (the Winograd products: V[ξ] is [tiles, C_in]);
 * - `tn`: A stored K-major, [K, M], so C = Aᵀ · B (the filter gradient: Σ over pixels of x[pixel, ci] ·
 *   dy[pixel, co], where both are channels-last).
 *
 * Every function is `gemm*(a, lda, b, ldb, c, ldc, mBlocks, n, k, kc, accumulate)`: `mBlocks` blocks of MR
 * rows, `n` a multiple of 4 columns, strides in bytes; C is overwritten unless `accumulate` is 1. Sums run in
 * K order within a chunk and chunk after chunk.
 */
export interface GemmLoops {
  nn: (...args: number[]) => void
  tn: (...args: number[]) => void
  /** Remainder rows: nn1 … nn{MR−1}, tn1 … tn{MR−1}. */
  [name: string]: (...args: number[]) => void
}

/** Rows per register tile. */
export const GEMM_MR = 4

const V_LOAD = (offset: number) => [0xfd, 0x00, 0x00, ...uleb(offset)] // v128.load align=1
const V_STORE = (offset: number) => [0xfd, 0x0b, 0x00, ...uleb(offset)]
const LOAD_SPLAT = (offset: number) => [0xfd, 0x09, 0x00, ...uleb(offset)] // v128.load32_splat
const V_ZERO = [0xfd, 0x0c, ...Array<number>(16).fill(0)] // v128.const 0
const MADD = [0xfd, ...uleb(0x105)] // f32x4.relaxed_madd(a, b, c) = a · b + c
const FMUL = [0xfd, ...uleb(230)]
const FADD = [0xfd, ...uleb(228)]
const IF = [0x04, 0x40]
const ELSE = [0x05]
const OR = [0x72]
const LT_U = [0x49]
const SELECT = [0x1b]

/**
 * One function: the loops over row blocks, K chunks and 8-column (then 4-column) tiles of `mr` rows.
 * Params: a 0, lda 1, b 2, ldb 3, c 4, ldc 5, mBlocks 6, n 7, k 8, kc 9, accumulate 10.
 */
export function gemmBody(mr: number, transA: boolean, fma: boolean): number[] {
  // i32 locals
  const k0 = 11
  const kEff = 12
  const j = 13 // column byte offset
  const nBytes = 14
  const pb = 15
  const kk = 16
  const fromC = 17
  const pa0 = 18 // nn: one pointer per row; tn: one pointer
  const pRows = transA ? 1 : mr
  const cRow = pa0 + pRows // mr row addresses of C
  const i32Count = cRow + mr - 11
  // v128 locals
  const v0 = 11 + i32Count
  const acc = (r: number, v: number) => v0 + r * 2 + v
  const bv = (v: number) => v0 + 2 * mr + v
  const av = v0 + 2 * mr + 2
  const v128Count = 2 * mr + 3

  const madd = (r: number, v: number) =>
    fma
      ? [...get(av), ...get(bv(v)), ...get(acc(r, v)), ...MADD, ...set(acc(r, v))]
      : [...get(av), ...get(bv(v)), ...FMUL, ...get(acc(r, v)), ...FADD, ...set(acc(r, v))]

  const tile = (nv: number) => {
    const code: number[] = []
    // C rows of this tile.
    for (let r = 0; r < mr; r++) {
      code.push(...get(4), ...(r === 0 ? [] : [...get(5), ...i32(r), ...mul, ...add]), ...get(j), ...add, ...set(cRow + r))
    }
    // Accumulators from C, or zero.
    code.push(...get(fromC), ...IF)
    for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) code.push(...get(cRow + r), ...V_LOAD(16 * v), ...set(acc(r, v)))
    code.push(...ELSE)
    for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) code.push(...V_ZERO, ...set(acc(r, v)))
    code.push(...end)
    // Pointers at (row block, k0).
    if (transA) {
      // a + k0·lda
      code.push(...get(0), ...get(k0), ...get(1), ...mul, ...add, ...set(pa0))
    } else {
      for (let r = 0; r < mr; r++) {
        code.push(...get(0), ...(r === 0 ? [] : [...get(1), ...i32(r), ...mul, ...add]), ...get(k0), ...i32(2), ...[0x74], ...add, ...set(pa0 + r))
      }
    }
    code.push(...get(2), ...get(k0), ...get(3), ...mul, ...add, ...get(j), ...add, ...set(pb))
    code.push(...get(kEff), ...set(kk))
    // The K loop.
    code.push(...loop)
    for (let v = 0; v < nv; v++) code.push(...get(pb), ...V_LOAD(16 * v), ...set(bv(v)))
    for (let r = 0; r < mr; r++) {
      code.push(...(transA ? [...get(pa0), ...LOAD_SPLAT(4 * r)] : [...get(pa0 + r), ...LOAD_SPLAT(0)]), ...set(av))
      for (let v = 0; v < nv; v++) code.push(...madd(r, v))
    }
    if (transA) code.push(...get(pa0), ...get(1), ...add, ...set(pa0))
    else for (let r = 0; r < mr; r++) code.push(...get(pa0 + r), ...i32(4), ...add, ...set(pa0 + r))
    code.push(...get(pb), ...get(3), ...add, ...set(pb))
    code.push(...get(kk), ...i32(1), ...sub, ...tee(kk), ...brIf(0), ...end)
    // Back to C.
    for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) code.push(...get(cRow + r), ...get(acc(r, v)), ...V_STORE(16 * v))
    return code
  }

  const code = [
    ...get(7), ...i32(2), ...[0x74], ...set(nBytes),
    ...block, ...get(6), ...eqz, ...brIf(0), ...get(8), ...eqz, ...brIf(0),
    ...loop, // row blocks
    ...i32(0), ...set(k0),
    ...loop, // K chunks
    // kEff = min(kc, k − k0); read C unless this is the first chunk of an overwrite.
    ...get(8), ...get(k0), ...sub, ...get(9), ...get(8), ...get(k0), ...sub, ...get(9), ...LT_U, ...SELECT, ...set(kEff),
    ...get(k0), ...i32(0), ...[0x47], ...get(10), ...OR, ...set(fromC),
    ...i32(0), ...set(j),
    // 8-column tiles while 8 columns remain.
    ...block, ...loop,
    ...get(j), ...i32(32), ...add, ...get(nBytes), ...[0x4b], ...brIf(1), // j + 32 > nBytes: done
    ...tile(2),
    ...get(j), ...i32(32), ...add, ...set(j),
    ...[0x0c, 0x00], // br 0 (continue)
    ...end, ...end,
    // A last 4-column tile.
    ...get(j), ...get(nBytes), ...LT_U, ...IF, ...tile(1), ...end,
    ...get(k0), ...get(9), ...add, ...tee(k0), ...get(8), ...LT_U, ...brIf(0),
    ...end,
    // Next row block.
    ...get(0), ...(transA ? i32(4 * mr) : [...get(1), ...i32(mr), ...mul]), ...add, ...set(0),
    ...get(4), ...get(5), ...i32(mr), ...mul, ...add, ...set(4),
    ...get(6), ...i32(1), ...sub, ...tee(6), ...brIf(0),
    ...end, ...end,
  ]
  return body([[i32Count, I32], [v128Count, V128]], code)
}

const PLAIN_NAMES = ['nn', 'tn', ...Array.from({ length: GEMM_MR - 1 }, (_, i) => [`nn${i + 1}`, `tn${i + 1}`]).flat()]
const TAPS_NAMES = ['nn', ...Array.from({ length: GEMM_MR - 1 }, (_, i) => `nn${i + 1}`)].map((n) => `${n}Taps`)

/** Export names in module order: nn, tn, their remainder rows, then the tap loops over nn and its remainders. */
export const GEMM_NAMES = [...PLAIN_NAMES, ...TAPS_NAMES]

/**
 * `*Taps(a, lda, b, ldb, c, ldc, mBlocks, n, k, kc, kh, kw, frameW, tapStride)`: for every tap (i, j) of a
 * kh × kw filter, C + (i·kw + j)·tapStride = A′ · B with A′ the view of A shifted by i·frameW + j floats
 * (the filter gradient over framed, channels-first inputs). K runs in chunks of `kc`, and each chunk of A and
 * B serves all taps before the next is read, so the big operands are read from memory once, not once per tap.
 */
function tapsBody(callee: number): number[] {
  const [k0, kEff, ti, tj, tap] = [14, 15, 16, 17, 18]
  const code = [
    ...block, ...get(8), ...eqz, ...brIf(0),
    ...i32(0), ...set(k0),
    ...loop,
    ...get(8), ...get(k0), ...sub, ...get(9), ...get(8), ...get(k0), ...sub, ...get(9), ...LT_U, ...SELECT, ...set(kEff),
    ...i32(0), ...set(ti), ...i32(0), ...set(tap),
    ...loop,
    ...i32(0), ...set(tj),
    ...loop,
    // nn(a + 4·(k0 + ti·frameW + tj), lda, b + k0·ldb, ldb, c + tap·tapStride, ldc, mBlocks, n, kEff, kEff, k0 ≠ 0)
    ...get(0), ...get(k0), ...get(ti), ...get(12), ...mul, ...add, ...get(tj), ...add, ...i32(2), ...[0x74], ...add,
    ...get(1),
    ...get(2), ...get(k0), ...get(3), ...mul, ...add,
    ...get(3),
    ...get(4), ...get(tap), ...get(13), ...mul, ...add,
    ...get(5), ...get(6), ...get(7), ...get(kEff), ...get(kEff), ...get(k0), ...i32(0), ...[0x47],
    ...[0x10, ...uleb(callee)],
    ...get(tap), ...i32(1), ...add, ...set(tap),
    ...get(tj), ...i32(1), ...add, ...tee(tj), ...get(11), ...LT_U, ...brIf(0),
    ...end,
    ...get(ti), ...i32(1), ...add, ...tee(ti), ...get(10), ...LT_U, ...brIf(0),
    ...end,
    ...get(k0), ...get(9), ...add, ...tee(k0), ...get(8), ...LT_U, ...brIf(0),
    ...end, ...end,
  ]
  return body([[5, I32]], code)
}

function moduleBytes(shared: boolean, fma: boolean): Uint8Array<ArrayBuffer> {
  const plain = PLAIN_NAMES.map((name) => {
    const transA = name.startsWith('tn')
    const mr = name.length > 2 ? Number(name.slice(2)) : GEMM_MR
    return { name, params: 11, body: gemmBody(mr, transA, fma) }
  })
  const taps = TAPS_NAMES.map((name) => ({ name, params: 14, body: tapsBody(PLAIN_NAMES.indexOf(name.slice(0, -4))) }))
  return assemble(shared, [...plain, ...taps])
}

/**
 * Whether this engine compiles relaxed SIMD. Node 20's V8 has it behind a flag, which we turn on (it adds
 * instructions and changes nothing else); Node 22 and browsers since 2023 have it on.
 */
function relaxedSimd(): boolean {
  if (typeof process !== 'undefined' && process.env?.UNET_WASM_FMA === '0') return false
  const probe = moduleBytes(false, true)
  if (WebAssembly.validate(probe)) return true
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd')
  } catch {
    return false
  }
  return WebAssembly.validate(probe)
}

let fmaChoice: boolean | undefined
/** Whether the GEMM uses fused multiply-adds (decided once per process). */
export function gemmUsesFma(): boolean {
  return (fmaChoice ??= relaxedSimd())
}

export const GEMM_MODULE = defineLoopModule(GEMM_NAMES, (shared) => moduleBytes(shared, gemmUsesFma()))

const instances = new WeakMap<object, GemmLoops | null>()

/** Internal switch (off sends the products back to XNNPACK), and a count of products run, for the tests. */
export const gemmTuning = { enabled: true, runs: 0 }

/** The GEMM loops bound to this backend's memory, or null where they cannot run. */
export function gemmLoops(backend: WasmBackendLike): GemmLoops | null {
  if (!gemmTuning.enabled) return null
  return instantiateLoops(backend, GEMM_MODULE, instances)
}

/** One product for {@link gemmCalls}: C (+)= op(A) · B with M rows and N columns, strides in bytes. */
export interface GemmJob {
  a: number
  lda: number
  b: number
  ldb: number
  c: number
  ldc: number
  m: number
  n: number
  k: number
  accumulate?: boolean
}

/** Floats of B per K chunk: the chunk [kc, N] stays in the (per-core) L2 cache while the rows pass. */
const CHUNK_FLOATS = 1 << 16
/** K chunk of the `tn` form, whose A rows are short: its chunks of A and B then stay in the L1 cache. */
const TN_KC = 256

/**
 * The calls that compute `jobs`, each job cut into about `parts` calls that write disjoint parts of C (runs of
 * whole row blocks, or of 8-column groups where a job has too few row blocks), so that threads can share one
 * product; the remainder rows go in calls of their own.
 */
export function gemmCalls(transA: boolean, jobs: GemmJob[], parts = 1): Array<{ name: string; args: number[] }> {
  const calls: Array<{ name: string; args: number[] }> = []
  for (const job of jobs) {
    const kc = Math.max(16, Math.min(job.k, transA ? TN_KC : Math.floor(CHUNK_FLOATS / job.n)))
    const rowStep = transA ? 4 : job.lda
    const blocks = Math.floor(job.m / GEMM_MR)
    const acc = job.accumulate === true ? 1 : 0
    const rowParts = Math.max(1, Math.min(parts, blocks))
    const colParts = rowParts >= parts ? 1 : Math.max(1, Math.min(Math.ceil(parts / rowParts), Math.floor(job.n / 8)))
    const colStep = Math.ceil(job.n / 8 / colParts) * 8
    const per = Math.ceil(blocks / rowParts)
    const rest = job.m - blocks * GEMM_MR
    for (let col = 0; col < job.n; col += colStep) {
      const n = Math.min(colStep, job.n - col)
      const b = job.b + col * 4
      const c = job.c + col * 4
      for (let start = 0; start < blocks; start += per) {
        const row = start * GEMM_MR
        calls.push({ name: transA ? 'tn' : 'nn', args: [job.a + row * rowStep, job.lda, b, job.ldb, c + row * job.ldc, job.ldc, Math.min(per, blocks - start), n, job.k, kc, acc] })
      }
      if (rest > 0) {
        const row = blocks * GEMM_MR
        calls.push({ name: `${transA ? 'tn' : 'nn'}${rest}`, args: [job.a + row * rowStep, job.lda, b, job.ldb, c + row * job.ldc, job.ldc, 1, n, job.k, kc, acc] })
      }
    }
  }
  return calls
}

/** The thread count our loops run on for this backend (1 for the single-threaded build). */
export function gemmThreads(backend: WasmBackendLike): number {
  return parallelTarget(backend.wasm)?.threads ?? 1
}

/**
 * Runs the calls of {@link gemmCalls} over this thread and the helpers, one parallel batch per function name
 * (in order of first appearance); calls must write disjoint parts of C.
 */
export function runGemm(backend: WasmBackendLike, loops: GemmLoops, calls: Array<{ name: string; args: number[] }>): void {
  gemmTuning.runs++
  const target = parallelTarget(backend.wasm)
  const byName = new Map<string, number[][]>()
  for (const call of calls) {
    const list = byName.get(call.name)
    if (list === undefined) byName.set(call.name, [call.args])
    else list.push(call.args)
  }
  for (const [name, list] of byName) runParallel(target, GEMM_MODULE, name, loops[name]!, list)
}
