import { util, type TensorInfo } from '@tensorflow/tfjs-core'

import { defineLoopModule, parallelTarget, runParallel, type LoopModule } from './parallel'
import { heapF32, offsetOf, type WasmBackendLike } from './wasm-backend'
import {
  add,
  assemble,
  block,
  body,
  brIf,
  end,
  eqz,
  fadd,
  fmul,
  fsub,
  get,
  i32,
  I32,
  load,
  loop,
  mul,
  rowsLoop,
  set,
  shl,
  shuffle,
  step16,
  store,
  sub,
  tee,
  uleb,
  V128,
} from './wasm-asm'

/**
 * Four per-channel loops in WebAssembly SIMD, run in place on the wasm backend's own memory. The batch-norm,
 * reduction and broadcast kernels spend their time in these loops; plain JS runs them one float at a time.
 * The module is assembled here from its opcodes (about 300 bytes) and imports the backend's memory, so it
 * reads and writes tensors where they lie. Every loop works on rows of `c4` groups of 4 floats (channels
 * divisible by 4); callers fall back to JS otherwise, and where SIMD is unavailable. They run on the
 * calling thread, also with the threaded build (whose memory they import as shared).
 */
export interface SimdLoops {
  /** acc[j] += x[r, j] for every row r: per-channel sums (float32, so callers keep blocks short). */
  channelSums(x: number, rows: number, c4: number, acc: number): void
  /** acc1[j] += dy[r, j]; acc2[j] += dy[r, j] · (x[r, j] − mean[j]). */
  channelDots(dy: number, x: number, mean: number, rows: number, c4: number, acc1: number, acc2: number): void
  /** acc1[j] += x[r, j] − shift[j]; acc2[j] += (x[r, j] − shift[j])²: a batch's moments about a shift near its mean. */
  channelMoments(x: number, shift: number, rows: number, c4: number, acc1: number, acc2: number): void
  /** out[r, j] = x[r, j] · k[j] + b[j]. */
  scaleShift(x: number, out: number, k: number, b: number, rows: number, c4: number): void
  /** out[r, j] = (a[r, j] · ka[j] + x[r, j] · kx[j]) + b[j]: the input gradient of a training batch norm. */
  scaleShift2(a: number, x: number, out: number, ka: number, kx: number, b: number, rows: number, c4: number): void
  /** out[r, j] = relu(x[r, j] · k[j] + b[j]), relu(v) = v <= 0 ? 0 : v (NaN stays NaN): a batch norm and its ReLU. */
  scaleShiftRelu(x: number, out: number, k: number, b: number, rows: number, c4: number): void
  /** As channelDots, of d = y[r, j] > 0 ? dy[r, j] : 0 (y the ReLU's output): the gradient through the ReLU too. */
  channelDotsMasked(dy: number, x: number, mean: number, y: number, rows: number, c4: number, acc1: number, acc2: number): void
  /** As scaleShift2, of a masked the same way by y: (d · ka + x · kx) + b. */
  scaleShift2Masked(a: number, x: number, out: number, ka: number, kx: number, b: number, y: number, rows: number, c4: number): void
  /** out[r, j] = k[j]. */
  fillRows(out: number, k: number, rows: number, c4: number): void
  /** Copies `rows` rows of `w4` groups of 4 floats between strided layouts (strides in bytes). */
  copyRows(src: number, srcStride: number, dst: number, dstStride: number, rows: number, w4: number): void
  /**
   * Two {@link SimdLoops.copyRows} in one pass over the rows: per row, w0 groups of 4 floats from s0 to d0, then w1
   * from s1 to d1, each pointer then advancing by its own stride (bytes). A two-way concatenation or split along
   * channels writes (or reads) each row of the joined tensor once, while it is in cache.
   */
  copyRows2(s0: number, ss0: number, d0: number, ds0: number, w0: number, s1: number, ss1: number, d1: number, ds1: number, w1: number, rows: number): void
  /**
   * Transposes 4·p4 pixels of 4·c4 channels (pixel stride `pixelStride` bytes) into 4·c4 channel rows
   * (row stride `rowStride` bytes), in 4 × 4 blocks.
   */
  transpose4(src: number, pixelStride: number, dst: number, rowStride: number, p4: number, c4: number): void
  /** out[i] = x[i] > 0 ? dy[i] : 0 over n4 groups of 4 floats: the gradient of a ReLU in one pass. */
  reluMask(dy: number, x: number, out: number, n4: number): void
  /** out[i] = 2 · x[i] · dy[i] over n4 groups of 4 floats: the gradient of a square in one pass. */
  squareGrad(dy: number, x: number, out: number, n4: number): void
  /**
   * Gradient of a 2 × 2, stride-2 max-pool for one output row of `outW` pixels of 4·c4 channels: each dy goes
   * to the first largest of its window's four inputs (row-major order, as the cpu backend picks), zeros to
   * the other three. `x` and `dx` point at the window's top input row, `rowStride` bytes apart from the next.
   */
  maxPool2x2Grad(x: number, dy: number, dx: number, outW: number, c4: number, rowStride: number): void
  /**
   * One Adam step over n4 groups of 4 floats, in float32 as tfjs-core's ops: m′ = β₁m + (1 − β₁)g,
   * v′ = β₂v + (1 − β₂)g², x′ = x − (lr · (m′ / c₁)) / (√(v′ / c₂) + ε). `k` holds
   * [β₁, 1 − β₁, β₂, 1 − β₂, c₁, c₂, ε, lr] as float32.
   */
  adamUpdate(x: number, g: number, m: number, v: number, x2: number, m2: number, v2: number, n4: number, k: number): void
}

function moduleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const zero = [...[0x43, 0x00, 0x00, 0x00, 0x00], ...[0xfd, 0x13]] // f32.const 0, f32x4.splat
  const gtF = [0xfd, 0x44] // f32x4.gt
  const leF = [0xfd, 0x45] // f32x4.le
  const and = [0xfd, 0x4e] // v128.and
  const andnot = [0xfd, 0x4f] // v128.andnot: a AND NOT b
  // A ReLU's gradient mask: (value on the stack) AND (top > 0), the comparison's all-ones lanes keeping the value.
  const keepPositive = [...zero, ...gtF, ...and]
  // A ReLU: v <= 0 gives all-ones lanes, which andnot clears (−0 gives +0, NaN stays NaN, as tfjs's relu).
  const reluOf = (v: number) => [...tee(v), ...get(v), ...zero, ...leF, ...andnot]
  // channelDots(dy 0, x 1, mean 2, rows 3, c4 4, acc1 5, acc2 6); locals j 7, a1 8, a2 9, m 10; d 11 (v128).
  // Masked (channelDotsMasked): y 3 after mean (the ReLU's output), the later indices one up, d = dy where y > 0.
  const dotsBody = (masked: boolean) => {
    const k = masked ? 1 : 0
    const [rows, c4, acc1, acc2, j, a1, a2, m, d] = [3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => i + k) as [number, number, number, number, number, number, number, number, number]
    return body(
      [
        [4, I32],
        [1, V128],
      ],
      rowsLoop(rows, c4, j, [...get(acc1), ...set(a1), ...get(acc2), ...set(a2), ...get(2), ...set(m)], [
        ...get(0), ...load, ...(masked ? [...get(3), ...load, ...keepPositive] : []), ...set(d),
        ...get(a1), ...get(a1), ...load, ...get(d), ...fadd, ...store,
        ...get(a2), ...get(a2), ...load, ...get(d), ...get(1), ...load, ...get(m), ...load, ...fsub, ...fmul, ...fadd, ...store,
        ...[0, 1, ...(masked ? [3] : []), a1, a2, m].flatMap((p) => step16(p)),
      ]),
    )
  }
  // scaleShift(x 0, out 1, k 2, b 3, rows 4, c4 5); locals j 6, kp 7, bp 8; with the ReLU (scaleShiftRelu) v 9 (v128)
  const scaleBody = (relu: boolean) =>
    body(
      relu
        ? [
            [3, I32],
            [1, V128],
          ]
        : [[3, I32]],
      rowsLoop(4, 5, 6, [...get(2), ...set(7), ...get(3), ...set(8)], [
        ...get(1),
        ...get(0), ...load, ...get(7), ...load, ...fmul, ...get(8), ...load, ...fadd, ...(relu ? reluOf(9) : []),
        ...store,
        ...[0, 1, 7, 8].flatMap((p) => step16(p)),
      ]),
    )
  // scaleShift2(a 0, x 1, out 2, ka 3, kx 4, b 5, rows 6, c4 7); locals j 8, kap 9, kxp 10, bp 11. Masked
  // (scaleShift2Masked): y 6 after b, the later indices one up, a taken where y > 0 only.
  const scale2Body = (masked: boolean) => {
    const k = masked ? 1 : 0
    const [rows, c4, j, kap, kxp, bp] = [6, 7, 8, 9, 10, 11].map((i) => i + k) as [number, number, number, number, number, number]
    return body(
      [[4, I32]],
      rowsLoop(rows, c4, j, [...get(3), ...set(kap), ...get(4), ...set(kxp), ...get(5), ...set(bp)], [
        ...get(2),
        ...get(0), ...load, ...(masked ? [...get(6), ...load, ...keepPositive] : []), ...get(kap), ...load, ...fmul,
        ...get(1), ...load, ...get(kxp), ...load, ...fmul,
        ...fadd,
        ...get(bp), ...load,
        ...fadd,
        ...store,
        ...[0, 1, 2, ...(masked ? [6] : []), kap, kxp, bp].flatMap((p) => step16(p)),
      ]),
    )
  }
  // channelSums(x 0, rows 1, c4 2, acc 3); locals j 4, a 5
  const sums = body(
    [[2, I32]],
    rowsLoop(1, 2, 4, [...get(3), ...set(5)], [
      ...get(5),
      ...get(5),
      ...load,
      ...get(0),
      ...load,
      ...fadd,
      ...store,
      ...step16(5),
      ...step16(0),
    ]),
  )
  // channelMoments(x 0, shift 1, rows 2, c4 3, acc1 4, acc2 5); locals j 6, a1 7, a2 8, sp 9; d 10 (v128)
  const moments = body(
    [
      [4, I32],
      [1, V128],
    ],
    rowsLoop(2, 3, 6, [...get(4), ...set(7), ...get(5), ...set(8), ...get(1), ...set(9)], [
      ...get(0), ...load, ...get(9), ...load, ...fsub, ...set(10),
      ...get(7), ...get(7), ...load, ...get(10), ...fadd, ...store,
      ...get(8), ...get(8), ...load, ...get(10), ...get(10), ...fmul, ...fadd, ...store,
      ...step16(0),
      ...step16(7),
      ...step16(8),
      ...step16(9),
    ]),
  )
  // fillRows(out 0, k 1, rows 2, c4 3); locals j 4, kp 5
  const fill = body(
    [[2, I32]],
    rowsLoop(2, 3, 4, [...get(1), ...set(5)], [...get(0), ...get(5), ...load, ...store, ...step16(0), ...step16(5)]),
  )
  // copyRows(src 0, srcStride 1, dst 2, dstStride 3, rows 4, w4 5); locals j 6, sp 7, dp 8
  const copy = body(
    [[3, I32]],
    rowsLoop(
      4,
      5,
      6,
      [...get(0), ...set(7), ...get(2), ...set(8), ...get(0), ...get(1), ...add, ...set(0), ...get(2), ...get(3), ...add, ...set(2)],
      [...get(8), ...get(7), ...load, ...store, ...step16(7), ...step16(8)],
    ),
  )
  // copyRows2(s0 0, ss0 1, d0 2, ds0 3, w0 4, s1 5, ss1 6, d1 7, ds1 8, w1 9, rows 10); locals j 11, p 12, q 13
  const segment = (src: number, dst: number, w: number) => [
    ...get(src), ...set(12), ...get(dst), ...set(13), ...get(w), ...set(11),
    ...block, ...get(11), ...eqz, ...brIf(0), ...loop,
    ...get(13), ...get(12), ...load, ...store, ...step16(12), ...step16(13),
    ...get(11), ...i32(1), ...sub, ...tee(11), ...brIf(0),
    ...end, ...end,
  ]
  const advance = (ptr: number, stride: number) => [...get(ptr), ...get(stride), ...add, ...set(ptr)]
  const copy2 = body(
    [[3, I32]],
    [
      ...block, ...get(10), ...eqz, ...brIf(0), ...loop,
      ...segment(0, 2, 4),
      ...segment(5, 7, 9),
      ...advance(0, 1), ...advance(2, 3), ...advance(5, 6), ...advance(7, 8),
      ...get(10), ...i32(1), ...sub, ...tee(10), ...brIf(0),
      ...end, ...end,
    ],
  )
  // transpose4(src 0, S 1, dst 2, D 3, p4 4, c4 5); locals j 6, sp 7, dp 8; v128 r0..r3 9–12, t0..t3 13–16
  const at = (base: number, stride: number, k: number) =>
    k === 0 ? get(base) : [...get(base), ...get(stride), ...(k === 1 ? [] : k === 2 ? [...i32(1), ...shl] : [...i32(3), ...mul]), ...add]
  const tr = body(
    [
      [3, I32],
      [8, V128],
    ],
    rowsLoop(
      4,
      5,
      6,
      [...get(0), ...set(7), ...get(2), ...set(8), ...get(0), ...get(1), ...i32(2), ...shl, ...add, ...set(0), ...step16(2)],
      [
        ...[0, 1, 2, 3].flatMap((k) => [...at(7, 1, k), ...load, ...set(9 + k)]),
        ...get(9), ...get(10), ...shuffle([0, 4, 1, 5]), ...set(13),
        ...get(9), ...get(10), ...shuffle([2, 6, 3, 7]), ...set(14),
        ...get(11), ...get(12), ...shuffle([0, 4, 1, 5]), ...set(15),
        ...get(11), ...get(12), ...shuffle([2, 6, 3, 7]), ...set(16),
        ...at(8, 3, 0), ...get(13), ...get(15), ...shuffle([0, 1, 4, 5]), ...store,
        ...at(8, 3, 1), ...get(13), ...get(15), ...shuffle([2, 3, 6, 7]), ...store,
        ...at(8, 3, 2), ...get(14), ...get(16), ...shuffle([0, 1, 4, 5]), ...store,
        ...at(8, 3, 3), ...get(14), ...get(16), ...shuffle([2, 3, 6, 7]), ...store,
        ...step16(7),
        ...get(8), ...get(3), ...i32(2), ...shl, ...add, ...set(8),
      ],
    ),
  )
  // Element-wise loops (dy 0, x 1, out 2, n4 3): out = compute(dy, x), with dy and x loaded in that order.
  const elementwise = (compute: number[]) =>
    body([[1, V128]], [
      ...block,
      ...get(3),
      ...eqz,
      ...brIf(0),
      ...loop,
      ...get(2),
      ...get(0),
      ...load,
      ...get(1),
      ...load,
      ...compute,
      ...store,
      ...step16(0),
      ...step16(1),
      ...step16(2),
      ...get(3),
      ...i32(1),
      ...sub,
      ...tee(3),
      ...brIf(0),
      ...end,
      ...end,
    ])
  // reluMask: dy AND (x > 0), the comparison's all-ones lanes keeping dy.
  const relu = elementwise(keepPositive)
  // squareGrad: dy · (x + x); x + x is x · 2 exactly, so the same as tfjs's dy · (x · 2). Local 4 holds x.
  const squareGrad = elementwise([...tee(4), ...get(4), ...fadd, ...fmul])
  // maxPool2x2Grad(x 0, dy 1, dx 2, outW 3, c4 4, rowStride 5); locals j 6, xp 7, gp 8, dp 9, chBytes 10;
  // v128 a 11, b 12, c 13, d 14, g 15, best 16, gtb 17, gtc 18, gtd 19.
  const bitselect = [0xfd, 0x52] // v128.bitselect(v1, v2, mask): v1 where mask, v2 elsewhere
  const at4 = (base: number, k: number) => [
    ...get(base),
    ...(k & 2 ? [...get(5), ...add] : []),
    ...(k & 1 ? [...get(10), ...add] : []),
  ]
  const pool = body(
    [
      [5, I32],
      [9, V128],
    ],
    [
      ...get(4),
      ...i32(4),
      ...shl,
      ...set(10),
      ...rowsLoop(
        3,
        4,
        6,
        [
          ...get(0), ...set(7), ...get(1), ...set(8), ...get(2), ...set(9),
          ...get(0), ...get(10), ...i32(1), ...shl, ...add, ...set(0),
          ...get(2), ...get(10), ...i32(1), ...shl, ...add, ...set(2),
          ...get(1), ...get(10), ...add, ...set(1),
        ],
        [
          ...[0, 1, 2, 3].flatMap((k) => [...at4(7, k), ...load, ...set(11 + k)]),
          ...get(8), ...load, ...set(15),
          ...get(12), ...get(11), ...gtF, ...set(17),
          ...get(12), ...get(11), ...get(17), ...bitselect, ...set(16),
          ...get(13), ...get(16), ...gtF, ...set(18),
          ...get(13), ...get(16), ...get(18), ...bitselect, ...set(16),
          ...get(14), ...get(16), ...gtF, ...set(19),
          ...at4(9, 3), ...get(15), ...get(19), ...and, ...store,
          ...at4(9, 2), ...get(15), ...get(18), ...and, ...get(19), ...andnot, ...store,
          ...at4(9, 1), ...get(15), ...get(17), ...and, ...get(18), ...andnot, ...get(19), ...andnot, ...store,
          ...at4(9, 0), ...get(15), ...get(17), ...andnot, ...get(18), ...andnot, ...get(19), ...andnot, ...store,
          ...step16(7),
          ...step16(8),
          ...step16(9),
        ],
      ),
    ],
  )
  // adamUpdate(x 0, g 1, m 2, v 3, x2 4, m2 5, v2 6, n4 7, k 8); v128 b1 9, nb1 10, b2 11, nb2 12, c1 13, c2 14,
  // eps 15, lr 16, g 17, m′ 18, v′ 19.
  const loadSplat = (offset: number) => [0xfd, 0x09, 0x02, ...uleb(offset)] // v128.load32_splat align=4
  const fdiv = [0xfd, ...uleb(231)] // f32x4.div
  const fsqrt = [0xfd, ...uleb(227)] // f32x4.sqrt
  const adam = body(
    [[11, V128]],
    [
      ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((k) => [...get(8), ...loadSplat(4 * k), ...set(9 + k)]),
      ...block, ...get(7), ...eqz, ...brIf(0), ...loop,
      ...get(1), ...load, ...set(17),
      // m′ = β₁m + (1 − β₁)g
      ...get(9), ...get(2), ...load, ...fmul, ...get(10), ...get(17), ...fmul, ...fadd, ...set(18),
      // v′ = β₂v + (1 − β₂)g·g
      ...get(11), ...get(3), ...load, ...fmul, ...get(12), ...get(17), ...fmul, ...get(17), ...fmul, ...fadd, ...set(19),
      ...get(5), ...get(18), ...store,
      ...get(6), ...get(19), ...store,
      // x′ = x − (lr · (m′ / c₁)) / (√(v′ / c₂) + ε)
      ...get(4),
      ...get(0), ...load,
      ...get(16), ...get(18), ...get(13), ...fdiv, ...fmul,
      ...get(19), ...get(14), ...fdiv, ...fsqrt, ...get(15), ...fadd,
      ...fdiv, ...fsub, ...store,
      ...[0, 1, 2, 3, 4, 5, 6].flatMap((k) => step16(k)),
      ...get(7), ...i32(1), ...sub, ...tee(7), ...brIf(0),
      ...end, ...end,
    ],
  )
  return assemble(shared, [
    { name: 'channelSums', params: 4, body: sums },
    { name: 'channelDots', params: 7, body: dotsBody(false) },
    { name: 'scaleShift', params: 6, body: scaleBody(false) },
    { name: 'fillRows', params: 4, body: fill },
    { name: 'copyRows', params: 6, body: copy },
    { name: 'transpose4', params: 6, body: tr },
    { name: 'reluMask', params: 4, body: relu },
    { name: 'squareGrad', params: 4, body: squareGrad },
    { name: 'maxPool2x2Grad', params: 6, body: pool },
    { name: 'adamUpdate', params: 9, body: adam },
    { name: 'scaleShift2', params: 8, body: scale2Body(false) },
    { name: 'copyRows2', params: 11, body: copy2 },
    { name: 'channelMoments', params: 6, body: moments },
    { name: 'scaleShiftRelu', params: 6, body: scaleBody(true) },
    { name: 'channelDotsMasked', params: 8, body: dotsBody(true) },
    { name: 'scaleShift2Masked', params: 9, body: scale2Body(true) },
  ])
}

/** The loops' names, in the order of the module's exports. */
const SIMD_NAMES = ['channelSums', 'channelDots', 'scaleShift', 'fillRows', 'copyRows', 'transpose4', 'reluMask', 'squareGrad', 'maxPool2x2Grad', 'adamUpdate', 'scaleShift2', 'copyRows2', 'channelMoments', 'scaleShiftRelu', 'channelDotsMasked', 'scaleShift2Masked']

/** This module, as the helper threads of `parallel.ts` instantiate it. */
export const SIMD_MODULE = defineLoopModule(SIMD_NAMES, moduleBytes)

const instances = new WeakMap<object, SimdLoops | null>()

/** Internal switch; the tests turn the SIMD loops off to check the JS paths give the same results. */
export const simdTuning = { enabled: true }

/** A loop module instantiated on this thread over the backend's memory, or null where it cannot run. */
export function instantiateLoops<T>(backend: WasmBackendLike, module: LoopModule, cache: WeakMap<object, T | null>): T | null {
  const memory = parallelTarget(backend.wasm)?.memory
  if (memory === undefined) return null
  const known = cache.get(memory)
  if (known !== undefined) return known
  let loops: T | null = null
  try {
    const bytes = module.build(typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer)
    if (WebAssembly.validate(bytes)) {
      loops = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as T
    }
  } catch {
    loops = null
  }
  cache.set(memory, loops)
  return loops
}

/** The SIMD loops bound to this backend's memory, or null where they cannot run. */
export function simdLoops(backend: WasmBackendLike): SimdLoops | null {
  if (!simdTuning.enabled) return null
  return instantiateLoops(backend, SIMD_MODULE, instances)
}

/**
 * Runs `name` once per argument list, split over this thread and the helper threads (see `parallel.ts`);
 * the calls must write disjoint memory.
 */
export function simdParallel(backend: WasmBackendLike, loops: SimdLoops, name: keyof SimdLoops, calls: number[][]): void {
  runParallel(parallelTarget(backend.wasm), SIMD_MODULE, name, loops[name] as (...args: number[]) => void, calls)
}

/** The least work (bytes touched) worth handing to a helper thread: a wake-up costs tens of microseconds. */
const MIN_CHUNK_BYTES = 1 << 16

/**
 * Runs `name` over `args`, split by rows over this thread and the helpers: the argument at `rowsArg` counts
 * rows, and each `[argument, bytes]` of `perRow` is a pointer that advances that many bytes per row.
 */
export function simdRows(
  backend: WasmBackendLike,
  loops: SimdLoops,
  name: keyof SimdLoops,
  args: number[],
  rowsArg: number,
  perRow: Array<[number, number]>,
): void {
  const rows = args[rowsArg] as number
  const rowBytes = perRow.reduce((a, [, b]) => a + b, 0)
  const chunks = Math.max(1, Math.min(8, rows, Math.floor((rows * rowBytes) / MIN_CHUNK_BYTES)))
  if (chunks === 1) {
    ;(loops[name] as (...a: number[]) => void)(...args)
    return
  }
  const per = Math.ceil(rows / chunks)
  const calls: number[][] = []
  for (let start = 0; start < rows; start += per) {
    const call = [...args]
    call[rowsArg] = Math.min(per, rows - start)
    for (const [k, bytes] of perRow) call[k] = (args[k] as number) + start * bytes
    calls.push(call)
  }
  simdParallel(backend, loops, name, calls)
}

/** Rows per float32 partial sum; the partials are added in float64, so long reductions stay accurate. */
const BLOCK_ROWS = 512

/**
 * Runs `use` with `floats` zeroed floats of scratch on the wasm heap (byte offset), freed afterwards.
 * Allocate before taking any heap view: malloc may grow the memory.
 */
export function withScratch<T>(backend: WasmBackendLike, floats: number, use: (offset: number) => T): T {
  const offset = backend.wasm._malloc(floats * 4) >>> 0
  try {
    new Float32Array(backend.wasm.HEAPU8.buffer, offset, floats).fill(0)
    return use(offset)
  } finally {
    backend.wasm._free(offset)
  }
}

/**
 * Per-channel sums of `rows` rows of `channels` floats at byte offset `x` (with `dy`/`mean`: of dy and of
 * dy · (x − mean), and with `relu` (a ReLU's output) of dy where it is > 0 only; with `shift`: of x − shift and
 * of (x − shift)²), in float64 from float32 partials over short blocks.
 */
export function blockedChannelSums(
  loops: SimdLoops,
  backend: WasmBackendLike,
  rows: number,
  channels: number,
  x: number,
  dot?: { dy: number; mean: number; relu?: number } | { shift: number },
): [Float64Array, Float64Array] {
  const sums = new Float64Array(channels)
  const dots = new Float64Array(channels)
  const blocks = Math.ceil(rows / BLOCK_ROWS)
  // One pair of accumulators per block, so the blocks can run on any thread in any order.
  withScratch(backend, 2 * channels * blocks, (acc) => {
    const calls: number[][] = []
    for (let b = 0; b < blocks; b++) {
      const n = Math.min(BLOCK_ROWS, rows - b * BLOCK_ROWS)
      const skip = b * BLOCK_ROWS * channels * 4
      const a1 = acc + 2 * b * channels * 4
      calls.push(
        dot === undefined
          ? [x + skip, n, channels / 4, a1]
          : 'shift' in dot
            ? [x + skip, dot.shift, n, channels / 4, a1, a1 + channels * 4]
            : dot.relu !== undefined
              ? [dot.dy + skip, x + skip, dot.mean, dot.relu + skip, n, channels / 4, a1, a1 + channels * 4]
              : [dot.dy + skip, x + skip, dot.mean, n, channels / 4, a1, a1 + channels * 4],
      )
    }
    const name = dot === undefined ? 'channelSums' : 'shift' in dot ? 'channelMoments' : dot.relu !== undefined ? 'channelDotsMasked' : 'channelDots'
    simdParallel(backend, loops, name, calls)
    const view = new Float32Array(backend.wasm.HEAPU8.buffer, acc, 2 * channels * blocks)
    for (let b = 0; b < blocks; b++) {
      const base = 2 * b * channels
      for (let c = 0; c < channels; c++) {
        sums[c] = (sums[c] as number) + (view[base + c] as number)
        dots[c] = (dots[c] as number) + (view[base + channels + c] as number)
      }
    }
  })
  return [sums, dots]
}

/**
 * Per-channel Σ dy and Σ dy · (x − mean) over channels-last float32 tensors of `channels` channels, in float64
 * (SIMD block partials where the channels divide by 4 and SIMD runs, a JS loop otherwise).
 */
export function channelDotSums(
  backend: WasmBackendLike,
  dy: TensorInfo,
  x: TensorInfo,
  mean: TensorInfo,
  channels: number,
  relu: TensorInfo | null = null,
): [Float64Array, Float64Array] {
  const rows = util.sizeFromShape(x.shape) / channels
  const loops = channels % 4 === 0 ? simdLoops(backend) : null
  if (loops !== null) {
    const dot = { dy: offsetOf(backend, dy), mean: offsetOf(backend, mean), ...(relu === null ? {} : { relu: offsetOf(backend, relu) }) }
    return blockedChannelSums(loops, backend, rows, channels, offsetOf(backend, x), dot)
  }
  const sumDy = new Float64Array(channels)
  const sumDyXc = new Float64Array(channels)
  const dyV = heapF32(backend, dy)
  const xV = heapF32(backend, x)
  const rV = relu === null ? null : heapF32(backend, relu)
  const m = Float32Array.from(heapF32(backend, mean))
  for (let i = 0; i < dyV.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const d = rV === null || (rV[i + c] as number) > 0 ? (dyV[i + c] as number) : 0
      sumDy[c] = (sumDy[c] as number) + d
      sumDyXc[c] = (sumDyXc[c] as number) + d * ((xV[i + c] as number) - (m[c] as number))
    }
  }
  return [sumDy, sumDyXc]
}

/**
 * out = a · ka + b per channel, or with `x` and `kx`, out = (a · ka + x · kx) + b: one SIMD pass on the helper
 * threads (`scaleShift`, `scaleShift2`) where the channels divide by 4 and SIMD runs, a JS loop otherwise.
 * `relu.output` applies a ReLU to out (one-input form); `relu.mask`, a ReLU's output, zeroes a where it is not
 * > 0 (two-input form): a batch norm and its ReLU, forward and backward, in the same pass.
 * The per-channel values go to scratch on the heap, so views and offsets are taken after that allocation.
 */
export function channelAffine(
  backend: WasmBackendLike,
  a: TensorInfo,
  out: TensorInfo,
  ka: Float32Array,
  b: Float32Array,
  x: TensorInfo | null = null,
  kx: Float32Array | null = null,
  relu: { output?: boolean; mask?: TensorInfo } = {},
): void {
  const channels = ka.length
  const rows = util.sizeFromShape(a.shape) / channels
  const loops = channels % 4 === 0 ? simdLoops(backend) : null
  const two = x !== null && kx !== null
  const mask = two ? (relu.mask ?? null) : null
  const reluOut = !two && relu.output === true
  if (loops !== null) {
    withScratch(backend, 3 * channels, (scratch) => {
      const heap = new Float32Array(backend.wasm.HEAPU8.buffer, scratch, 3 * channels)
      heap.set(ka, 0)
      heap.set(b, channels)
      const row: Array<[number, number]> = [[0, channels * 4], [1, channels * 4]]
      if (two && mask !== null) {
        heap.set(kx, 2 * channels)
        const args = [offsetOf(backend, a), offsetOf(backend, x), offsetOf(backend, out), scratch, scratch + 8 * channels, scratch + 4 * channels, offsetOf(backend, mask), rows, channels / 4]
        simdRows(backend, loops, 'scaleShift2Masked', args, 7, [...row, [2, channels * 4], [6, channels * 4]])
      } else if (two) {
        heap.set(kx, 2 * channels)
        const args = [offsetOf(backend, a), offsetOf(backend, x), offsetOf(backend, out), scratch, scratch + 8 * channels, scratch + 4 * channels, rows, channels / 4]
        simdRows(backend, loops, 'scaleShift2', args, 6, [...row, [2, channels * 4]])
      } else {
        simdRows(backend, loops, reluOut ? 'scaleShiftRelu' : 'scaleShift', [offsetOf(backend, a), offsetOf(backend, out), scratch, scratch + 4 * channels, rows, channels / 4], 4, row)
      }
    })
    return
  }
  const av = heapF32(backend, a)
  const xv = two ? heapF32(backend, x) : null
  const mv = mask === null ? null : heapF32(backend, mask)
  const ov = heapF32(backend, out)
  for (let i = 0; i < av.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const ai = mv === null || (mv[i + c] as number) > 0 ? (av[i + c] as number) : 0
      const ax = ai * (ka[c] as number)
      const v = (xv === null ? ax : ax + (xv[i + c] as number) * (kx![c] as number)) + (b[c] as number)
      // As tfjs's relu: v <= 0 ? 0 : v (−0 gives +0, NaN stays NaN).
      ov[i + c] = reluOut && v <= 0 ? 0 : v
    }
  }
}
