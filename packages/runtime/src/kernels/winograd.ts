import { FusedConv2D, type FusedConv2DAttrs, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core'

import { convGeometry } from './conv-geometry'
import { WasmKernelError } from './errors'
import { GEMM_MR, gemmBody, gemmCalls, gemmLoops, gemmThreads, gemmUsesFma, runGemm, type GemmJob } from './gemm'
import { defineLoopModule, parallelTarget, runParallel } from './parallel'
import { instantiateLoops, simdLoops, simdParallel, withScratch, type SimdLoops } from './simd'
import { aliasInfo, disposeAlias, disposeInfo, heapF32, offsetOf, stockKernel, type KernelArgs, type WasmBackendLike } from './wasm-backend'
import {
  add,
  assemble,
  block,
  body,
  brIf,
  call,
  divU,
  remU,
  mul,
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
  rowsLoop,
  set,
  shl,
  step16,
  store,
  sub,
  tee,
  uleb,
  V128,
} from './wasm-asm'

/**
 * Winograd F(2×2, 3×3) for the 3 × 3, stride-1, pad-1 convolutions of a U-Net on wasm (Lavin & Gray, 2015):
 * every 2 × 2 block of outputs comes from a 4 × 4 patch of the input as Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
 * which turns the 9 multiply-adds per output, input channel and output channel of the direct convolution into
 * 4, spent in 16 GEMMs of [tiles, C_in] · [C_in, C_out] (XNNPACK's, through the backend's own `BatchMatMul`,
 * on its thread pool). The three transforms are the loops below, in wasm SIMD over 4 channels at a time, run
 * on the calling thread:
 *
 *   filterTransform  U[ξ, ci, co] = (G g[·, ·, ci, co] Gᵀ)[ξ]          G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
 *   inputTransform   V[ξ, t, ci]  = (Bᵀ d_t[·, ·, ci] B)[ξ]             Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
 *   outputTransform  y_t[·, ·, co] = max(Aᵀ M_t[·, ·, co] A + bias, lo)  Aᵀ = [1 1 1 0; 0 1 −1 −1]
 *
 * with ξ the 16 positions of a 4 × 4 tile, t a tile (image, tile row, tile column), d_t its 4 × 4 input patch
 * from the zero-padded input, and lo 0 for a fused ReLU, −∞ otherwise.
 */
interface WinogradLoops {
  /** n4 groups of 4 (ci, co) pairs: the 9 taps at g + k·plane, the 16 transformed at u + ξ·plane. */
  filterTransform(g: number, u: number, plane: number, n4: number): void
  /** One row of `tiles` tiles: patch rows `rowStride` bytes apart, tile t at p + 2t·C·4, V rows at v + t·C·4. */
  inputTransform(p: number, rowStride: number, v: number, plane: number, tiles: number, c4: number): void
  /** One row of `tiles` tiles, from M at m + ξ·plane into the two output rows at out and out + rowStride. */
  outputTransform(m: number, plane: number, out: number, rowStride: number, tiles: number, c4: number, bias: number): void
  outputTransformRelu(m: number, plane: number, out: number, rowStride: number, tiles: number, c4: number, bias: number): void
  /** The GEMM of `gemm.ts` (`nn`, 4-row blocks), for the fused loop. */
  gemm(...args: number[]): void
  /**
   * `count` blocks of `rows` tile rows from block `first` on, each through all three steps while it is in
   * cache: input transform into V, the 16 products V[ξ] · U[ξ] into M, output transform (see {@link fusedCall}).
   */
  fused(...args: number[]): void
  /** The `tn` GEMM of `gemm.ts` (C += Aᵀ · B), for the fused filter gradient. */
  gemmTn(...args: number[]): void
  /** One row of `tiles` 2 × 2 tiles of dy (rows `rowStride` bytes apart) into the 16 planes: A dy Aᵀ. */
  dyTransform(dy: number, rowStride: number, out: number, plane: number, tiles: number, c4: number): void
  /**
   * n4 groups of 4 (ci, co) pairs: the sum of `parts` partial products (`partStride` bytes apart) at
   * c + ξ·plane, back to the 9 taps of the filter gradient at dw + tap·plane: Gᵀ C G.
   */
  filterOutTransform(c: number, plane: number, partStride: number, parts: number, dw: number, n4: number): void
  /** The filter gradient's counterpart of `fused`: input and dy transforms of a block, 16 products added to C. */
  fusedGrad(...args: number[]): void
}

const fmax = [0xfd, ...uleb(233)] // f32x4.max
const f32Const = (bits: number[]) => [0x43, ...bits]
const splat = [0xfd, 0x13] // f32x4.splat

/** local ← a (op) b for v128 locals. */
const vop = (dst: number, a: number, b: number, op: number[]) => [...get(a), ...get(b), ...op, ...set(dst)]

/** Locals first..first+14 ← plane·1 … plane·15. */
function planeOffsets(plane: number, first: number): number[] {
  const code = [...get(plane), ...set(first)]
  for (let k = 1; k < 15; k++) code.push(...get(first + k - 1), ...get(plane), ...add, ...set(first + k))
  return code
}

/** base + (offset local, if any). */
const addr = (base: number, ...offsets: Array<number | null>) => [
  ...get(base),
  ...offsets.flatMap((o) => (o === null ? [] : [...get(o), ...add])),
]

/**
 * Bytes added to each of the 16 planes of a fused call's scratch (V, M, Ã). A block's plane is a power of two
 * of 16 KB or more, so without it the 16 values a tile writes (and the output transform reads) fall in one set
 * of the 4 KB-indexed L1 cache and alias in the store buffer; one cache line more puts them in 16 sets.
 */
export const PLANE_PAD = 64

/** Floats of one fused call's scratch: 16 planes of `tiles` × `channels`, each padded by {@link PLANE_PAD}. */
const scratchFloats = (tiles: number, channels: number) => 16 * (tiles * channels + PLANE_PAD / 4)

function moduleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  // filterTransform(g 0, u 1, plane 2, n4 3); i32 P1..P15 4–18; v128 G 19–27, Q 28–39, half 40, s 41.
  const P = (first: number, k: number) => (k === 0 ? null : first + k - 1)
  const G = (kh: number, kw: number) => 19 + kh * 3 + kw
  const Q = (i: number, kw: number) => 28 + i * 3 + kw
  const half = 40
  const tmp = 41
  /** dst ← (a + b + c)·½ or (a − b + c)·½. */
  const halfSum = (dst: number, a: number, b: number, c: number, minus: boolean) => [
    ...get(a), ...get(b), ...(minus ? fsub : fadd), ...get(c), ...fadd, ...get(half), ...fmul, ...set(dst),
  ]
  const filter = body(
    [
      [15, I32],
      [23, V128],
    ],
    [
      ...planeOffsets(2, 4),
      ...f32Const([0x00, 0x00, 0x00, 0x3f]), ...splat, ...set(half), // 0.5
      ...block, ...get(3), ...eqz, ...brIf(0), ...loop,
      ...[0, 1, 2].flatMap((kh) => [0, 1, 2].flatMap((kw) => [...addr(0, P(4, kh * 3 + kw)), ...load, ...set(G(kh, kw))])),
      ...[0, 1, 2].flatMap((kw) => [
        ...get(G(0, kw)), ...set(Q(0, kw)),
        ...halfSum(Q(1, kw), G(0, kw), G(1, kw), G(2, kw), false),
        ...halfSum(Q(2, kw), G(0, kw), G(1, kw), G(2, kw), true),
        ...get(G(2, kw)), ...set(Q(3, kw)),
      ]),
      ...[0, 1, 2, 3].flatMap((i) => [
        ...addr(1, P(4, 4 * i)), ...get(Q(i, 0)), ...store,
        ...halfSum(tmp, Q(i, 0), Q(i, 1), Q(i, 2), false), ...addr(1, P(4, 4 * i + 1)), ...get(tmp), ...store,
        ...halfSum(tmp, Q(i, 0), Q(i, 1), Q(i, 2), true), ...addr(1, P(4, 4 * i + 2)), ...get(tmp), ...store,
        ...addr(1, P(4, 4 * i + 3)), ...get(Q(i, 2)), ...store,
      ]),
      ...step16(0), ...step16(1),
      ...get(3), ...i32(1), ...sub, ...tee(3), ...brIf(0),
      ...end, ...end,
    ],
  )

  // inputTransform(p 0, rowStride 1, v 2, plane 3, tiles 4, c4 5). Channel groups outside, tiles inside: the
  // row pass (Bᵀ down each patch column) of a tile's last two columns is the next tile's first two, so each
  // tile loads and transforms two new columns only. i32 g 6, t 7, q0–q3 8–11, vp 12, ch 13, ch2 14, ch3 15,
  // P1..P15 16–30, gp 31, gv 32; v128 R 33–48, D 49–52.
  const Pin = (k: number) => P(16, k)
  const q = (i: number) => 8 + i
  const Rin = (i: number, j: number) => 33 + 4 * i + j
  const Din = (i: number) => 49 + i
  /** R(·, j) = Bᵀ (column j of the patch), the column loaded into D. */
  const rowPass = (j: number) => [
    ...vop(Rin(0, j), Din(0), Din(2), fsub),
    ...vop(Rin(1, j), Din(1), Din(2), fadd),
    ...vop(Rin(2, j), Din(2), Din(1), fsub),
    ...vop(Rin(3, j), Din(1), Din(3), fsub),
  ]
  const loadColumn = (colOffset: number | null) => [0, 1, 2, 3].flatMap((i) => [...addr(q(i), colOffset), ...load, ...set(Din(i))])
  const input = body(
    [
      [27, I32],
      [20, V128],
    ],
    [
      ...get(5), ...i32(4), ...shl, ...set(13),
      ...get(13), ...i32(1), ...shl, ...set(14),
      ...get(14), ...get(13), ...add, ...set(15),
      ...planeOffsets(3, 16),
      ...get(0), ...set(31), ...get(2), ...set(32),
      ...block, ...get(5), ...eqz, ...brIf(0), ...get(4), ...eqz, ...brIf(0),
      ...get(5), ...set(6),
      ...loop,
      ...get(31), ...set(q(0)),
      ...get(q(0)), ...get(1), ...add, ...set(q(1)),
      ...get(q(1)), ...get(1), ...add, ...set(q(2)),
      ...get(q(2)), ...get(1), ...add, ...set(q(3)),
      ...get(32), ...set(12),
      ...loadColumn(null), ...rowPass(0),
      ...loadColumn(13), ...rowPass(1),
      ...get(4), ...set(7),
      ...loop,
      ...loadColumn(14), ...rowPass(2),
      ...loadColumn(15), ...rowPass(3),
      // (Bᵀ d) B: along the columns, stored to the 16 planes.
      ...[0, 1, 2, 3].flatMap((i) => [
        ...addr(12, Pin(4 * i)), ...get(Rin(i, 0)), ...get(Rin(i, 2)), ...fsub, ...store,
        ...addr(12, Pin(4 * i + 1)), ...get(Rin(i, 1)), ...get(Rin(i, 2)), ...fadd, ...store,
        ...addr(12, Pin(4 * i + 2)), ...get(Rin(i, 2)), ...get(Rin(i, 1)), ...fsub, ...store,
        ...addr(12, Pin(4 * i + 3)), ...get(Rin(i, 1)), ...get(Rin(i, 3)), ...fsub, ...store,
      ]),
      // The next tile starts two columns on.
      ...[0, 1, 2, 3].flatMap((i) => [...get(Rin(i, 2)), ...set(Rin(i, 0)), ...get(Rin(i, 3)), ...set(Rin(i, 1))]),
      ...[0, 1, 2, 3].flatMap((i) => [...get(q(i)), ...get(14), ...add, ...set(q(i))]),
      ...get(12), ...get(13), ...add, ...set(12),
      ...get(7), ...i32(1), ...sub, ...tee(7), ...brIf(0),
      ...end,
      ...step16(31), ...step16(32),
      ...get(6), ...i32(1), ...sub, ...tee(6), ...brIf(0),
      ...end, ...end,
    ],
  )

  // outputTransform(m 0, plane 1, out 2, rowStride 3, tiles 4, c4 5, bias 6); i32 j 7, mp 8, op 9, bp 10,
  // ch 11, c2 12, P1..P15 13–27, rc 28; v128 M 29–44, T 45–52, B 53, lo 54.
  const M = (i: number, j: number) => 29 + 4 * i + j
  const T = (r: number, j: number) => 45 + 4 * r + j
  const output = (relu: boolean) =>
    body(
      [
        [22, I32],
        [26, V128],
      ],
      [
        ...get(5), ...i32(4), ...shl, ...set(11),
        ...get(11), ...i32(1), ...shl, ...set(12),
        ...get(3), ...get(11), ...add, ...set(28),
        ...planeOffsets(1, 13),
        ...f32Const(relu ? [0x00, 0x00, 0x00, 0x00] : [0x00, 0x00, 0x80, 0xff]), ...splat, ...set(54), // 0 or −∞
        ...rowsLoop(4, 5, 7, [...get(0), ...set(8), ...get(2), ...set(9), ...get(6), ...set(10), ...get(0), ...get(11), ...add, ...set(0), ...get(2), ...get(12), ...add, ...set(2)], [
          ...[0, 1, 2, 3].flatMap((i) => [0, 1, 2, 3].flatMap((j) => [...addr(8, P(13, 4 * i + j)), ...load, ...set(M(i, j))])),
          // Aᵀ M: two rows.
          ...[0, 1, 2, 3].flatMap((j) => [
            ...get(M(0, j)), ...get(M(1, j)), ...fadd, ...get(M(2, j)), ...fadd, ...set(T(0, j)),
            ...get(M(1, j)), ...get(M(2, j)), ...fsub, ...get(M(3, j)), ...fsub, ...set(T(1, j)),
          ]),
          ...get(10), ...load, ...set(53),
          // (Aᵀ M) A + bias, clamped below: the four outputs of the tile.
          ...[0, 1].flatMap((r) => [
            ...addr(9, r === 0 ? null : 3),
            ...get(T(r, 0)), ...get(T(r, 1)), ...fadd, ...get(T(r, 2)), ...fadd, ...get(53), ...fadd, ...get(54), ...fmax, ...store,
            ...addr(9, r === 0 ? 11 : 28),
            ...get(T(r, 1)), ...get(T(r, 2)), ...fsub, ...get(T(r, 3)), ...fsub, ...get(53), ...fadd, ...get(54), ...fmax, ...store,
          ]),
          ...step16(8), ...step16(9), ...step16(10),
        ]),
      ],
    )

  return assemble(shared, [
    { name: 'filterTransform', params: 4, body: filter },
    { name: 'inputTransform', params: 6, body: input },
    { name: 'outputTransform', params: 7, body: output(false) },
    { name: 'outputTransformRelu', params: 7, body: output(true) },
    { name: 'gemm', params: 11, body: gemmBody(GEMM_MR, false, gemmUsesFma()) },
    { name: 'fused', params: 20, body: fusedBody() },
    { name: 'gemmTn', params: 11, body: gemmBody(GEMM_MR, true, gemmUsesFma()) },
    { name: 'dyTransform', params: 6, body: dyTransformBody() },
    { name: 'filterOutTransform', params: 6, body: filterOutBody() },
    { name: 'fusedGrad', params: 18, body: fusedGradBody() },
  ])
}

const fneg = [0xfd, ...uleb(225)] // f32x4.neg

/**
 * dyTransform(dy 0, rowStride 1, out 2, plane 3, tiles 4, c4 5): Ã = A d Aᵀ of each 2 × 2 tile d of dy, with
 * A = [1 0; 1 1; 1 −1; 0 −1], to the 16 planes (the transpose of the forward output transform).
 */
function dyTransformBody(): number[] {
  // i32 j 6, dp 7, op 8, ch 9, c2 10, P1..P15 11–25; v128 D 26–29, R 30–37.
  const P = (k: number) => (k === 0 ? null : 11 + k - 1)
  const D = (i: number, j: number) => 26 + 2 * i + j
  const R = (a: number, j: number) => 30 + 2 * a + j
  const rows = (a: number, j: number): number[] =>
    a === 0 ? get(D(0, j)) : a === 1 ? [...get(D(0, j)), ...get(D(1, j)), ...fadd] : a === 2 ? [...get(D(0, j)), ...get(D(1, j)), ...fsub] : [...get(D(1, j)), ...fneg]
  const cols = (a: number, b: number): number[] =>
    b === 0 ? get(R(a, 0)) : b === 1 ? [...get(R(a, 0)), ...get(R(a, 1)), ...fadd] : b === 2 ? [...get(R(a, 0)), ...get(R(a, 1)), ...fsub] : [...get(R(a, 1)), ...fneg]
  return body(
    [
      [20, I32],
      [12, V128],
    ],
    [
      ...get(5), ...i32(4), ...shl, ...set(9),
      ...get(9), ...i32(1), ...shl, ...set(10),
      ...planeOffsets(3, 11),
      ...rowsLoop(4, 5, 6, [...get(0), ...set(7), ...get(2), ...set(8), ...get(0), ...get(10), ...add, ...set(0), ...get(2), ...get(9), ...add, ...set(2)], [
        ...[0, 1].flatMap((i) => [0, 1].flatMap((j) => [...addr(7, i === 0 ? null : 1, j === 0 ? null : 9), ...load, ...set(D(i, j))])),
        ...[0, 1, 2, 3].flatMap((a) => [0, 1].flatMap((j) => [...rows(a, j), ...set(R(a, j))])),
        ...[0, 1, 2, 3].flatMap((a) => [0, 1, 2, 3].flatMap((b) => [...addr(8, P(4 * a + b)), ...cols(a, b), ...store])),
        ...step16(7), ...step16(8),
      ]),
    ],
  )
}

/**
 * filterOutTransform(c 0, plane 1, partStride 2, parts 3, dw 4, n4 5): dW = Gᵀ C G with Gᵀ = [1 ½ ½ 0;
 * 0 ½ −½ 0; 0 ½ ½ 1], C the sum of the partial products.
 */
function filterOutBody(): number[] {
  // i32 P1..P15 6–20, q 21, k 22; v128 C 23–38, T 39–50, half 51, tmp 52.
  const P = (k: number) => (k === 0 ? null : 6 + k - 1)
  const C = (a: number, b: number) => 23 + 4 * a + b
  const T = (k: number, b: number) => 39 + 4 * k + b
  const half = 51
  const tmp = 52
  // Gᵀ applied to (x0, x1, x2, x3): x0 + ½(x1 + x2), ½(x1 − x2), ½(x1 + x2) + x3.
  const g = (k: number, x: (i: number) => number): number[] =>
    k === 1
      ? [...get(x(1)), ...get(x(2)), ...fsub, ...get(half), ...fmul]
      : [...get(x(1)), ...get(x(2)), ...fadd, ...get(half), ...fmul, ...get(x(k === 0 ? 0 : 3)), ...fadd]
  return body(
    [
      [17, I32],
      [30, V128],
    ],
    [
      ...planeOffsets(1, 6),
      ...f32Const([0x00, 0x00, 0x00, 0x3f]), ...splat, ...set(half),
      ...block, ...get(5), ...eqz, ...brIf(0), ...loop,
      ...[0, 1, 2, 3].flatMap((a) => [0, 1, 2, 3].flatMap((b) => [...addr(0, P(4 * a + b)), ...load, ...set(C(a, b))])),
      // The other partial products.
      ...get(0), ...set(21), ...i32(1), ...set(22),
      ...block, ...loop,
      ...get(22), ...get(3), ...[0x4f], ...brIf(1), // k ≥ parts: done
      ...get(21), ...get(2), ...add, ...set(21),
      ...[0, 1, 2, 3].flatMap((a) => [0, 1, 2, 3].flatMap((b) => [...get(C(a, b)), ...addr(21, P(4 * a + b)), ...load, ...fadd, ...set(C(a, b))])),
      ...get(22), ...i32(1), ...add, ...set(22),
      ...[0x0c, 0x00],
      ...end, ...end,
      ...[0, 1, 2].flatMap((k) => [0, 1, 2, 3].flatMap((b) => [...g(k, (i) => C(i, b)), ...set(T(k, b))])),
      ...[0, 1, 2].flatMap((k) => [0, 1, 2].flatMap((l) => [...addr(4, P(3 * k + l)), ...g(l, (i) => T(k, i)), ...set(tmp), ...get(tmp), ...store])),
      ...step16(0), ...step16(4),
      ...get(5), ...i32(1), ...sub, ...tee(5), ...brIf(0),
      ...end, ...end,
    ],
  )
}

/**
 * fusedGrad(pBase 0, pRowStride 1, pImageStride 2, pBlockStride 3, dyBase 4, dyRowStride 5, dyImageStride 6,
 * dyBlockStride 7, blocksPerImage 8, first 9, count 10, tw 11, rows 12, ci 13, co 14, c 15, v 16, g 17):
 * for each block, V ← the input transform of its tiles, Ã ← the dy transform, then C[ξ] += V[ξ]ᵀ · Ã[ξ] for
 * the 16 positions (C [16, ci, co] is this call's own partial sum).
 */
function fusedGradBody(): number[] {
  const [b, pRow, dRow, r, xi, tiles, planeV, planeG, vRow, gRow] = [18, 19, 20, 21, 22, 23, 24, 25, 26, 27]
  const code = [
    ...get(11), ...get(12), ...mul, ...set(tiles),
    ...get(tiles), ...get(13), ...mul, ...i32(2), ...shl, ...i32(PLANE_PAD), ...add, ...set(planeV),
    ...get(tiles), ...get(14), ...mul, ...i32(2), ...shl, ...i32(PLANE_PAD), ...add, ...set(planeG),
    ...block, ...get(10), ...eqz, ...brIf(0),
    ...get(9), ...set(b),
    ...loop,
    ...get(0), ...get(b), ...get(8), ...divU, ...get(2), ...mul, ...add, ...get(b), ...get(8), ...remU, ...get(3), ...mul, ...add, ...set(pRow),
    ...get(4), ...get(b), ...get(8), ...divU, ...get(6), ...mul, ...add, ...get(b), ...get(8), ...remU, ...get(7), ...mul, ...add, ...set(dRow),
    ...get(16), ...set(vRow), ...get(17), ...set(gRow), ...get(12), ...set(r),
    ...loop,
    ...get(pRow), ...get(1), ...get(vRow), ...get(planeV), ...get(11), ...get(13), ...i32(2), ...[0x76], ...call(1),
    ...get(dRow), ...get(5), ...get(gRow), ...get(planeG), ...get(11), ...get(14), ...i32(2), ...[0x76], ...call(7),
    ...get(pRow), ...get(1), ...i32(1), ...shl, ...add, ...set(pRow),
    ...get(dRow), ...get(5), ...i32(1), ...shl, ...add, ...set(dRow),
    ...get(vRow), ...get(11), ...get(13), ...mul, ...i32(2), ...shl, ...add, ...set(vRow),
    ...get(gRow), ...get(11), ...get(14), ...mul, ...i32(2), ...shl, ...add, ...set(gRow),
    ...get(r), ...i32(1), ...sub, ...tee(r), ...brIf(0),
    ...end,
    // C[ξ] += V[ξ]ᵀ · Ã[ξ]: tn(a, lda, b, ldb, c, ldc, mBlocks, n, k, kc, accumulate).
    ...i32(0), ...set(xi),
    ...loop,
    ...get(16), ...get(xi), ...get(planeV), ...mul, ...add, ...get(13), ...i32(2), ...shl,
    ...get(17), ...get(xi), ...get(planeG), ...mul, ...add, ...get(14), ...i32(2), ...shl,
    ...get(15), ...get(xi), ...get(13), ...mul, ...get(14), ...mul, ...i32(2), ...shl, ...add, ...get(14), ...i32(2), ...shl,
    ...get(13), ...i32(2), ...[0x76], ...get(14), ...get(tiles), ...get(tiles), ...i32(1),
    ...call(6),
    ...get(xi), ...i32(1), ...add, ...tee(xi), ...i32(16), ...[0x49], ...brIf(0),
    ...end,
    ...get(b), ...i32(1), ...add, ...set(b),
    ...get(10), ...i32(1), ...sub, ...tee(10), ...brIf(0),
    ...end, ...end,
  ]
  return body([[10, I32]], code)
}

/**
 * fused(pBase 0, pRowStride 1, pImageStride 2, pBlockStride 3, outBase 4, outRowStride 5, outImageStride 6,
 * outBlockStride 7, blocksPerImage 8, first 9, count 10, tw 11, rows 12, ci 13, co 14, u 15, v 16, m 17,
 * bias 18, relu 19): blocks of `rows` tile rows of one image (M = rows · tw tiles, a multiple of 4), V and M
 * in this call's own scratch, so that they stay in cache between the three steps.
 */
function fusedBody(): number[] {
  const [b, pRow, oRow, r, xi, tiles, planeV, planeM, vRow, mRow] = [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]
  const outArgs = [...get(mRow), ...get(planeM), ...get(oRow), ...get(5), ...get(11), ...get(14), ...i32(2), ...[0x76], ...get(18)]
  const code = [
    ...get(11), ...get(12), ...mul, ...set(tiles),
    ...get(tiles), ...get(13), ...mul, ...i32(2), ...shl, ...i32(PLANE_PAD), ...add, ...set(planeV),
    ...get(tiles), ...get(14), ...mul, ...i32(2), ...shl, ...i32(PLANE_PAD), ...add, ...set(planeM),
    ...block, ...get(10), ...eqz, ...brIf(0),
    ...get(9), ...set(b),
    ...loop,
    // Pointers of block b: image b / blocksPerImage, block row b % blocksPerImage.
    ...get(0), ...get(b), ...get(8), ...divU, ...get(2), ...mul, ...add, ...get(b), ...get(8), ...remU, ...get(3), ...mul, ...add, ...set(pRow),
    ...get(4), ...get(b), ...get(8), ...divU, ...get(6), ...mul, ...add, ...get(b), ...get(8), ...remU, ...get(7), ...mul, ...add, ...set(oRow),
    // Input transform, tile row by tile row (patch rows 2 apart).
    ...get(16), ...set(vRow), ...get(pRow), ...set(pRow), ...get(12), ...set(r),
    ...loop,
    ...get(pRow), ...get(1), ...get(vRow), ...get(planeV), ...get(11), ...get(13), ...i32(2), ...[0x76], ...call(1),
    ...get(pRow), ...get(1), ...i32(1), ...shl, ...add, ...set(pRow),
    ...get(vRow), ...get(11), ...get(13), ...mul, ...i32(2), ...shl, ...add, ...set(vRow),
    ...get(r), ...i32(1), ...sub, ...tee(r), ...brIf(0),
    ...end,
    // The 16 products.
    ...i32(0), ...set(xi),
    ...loop,
    ...get(16), ...get(xi), ...get(planeV), ...mul, ...add, ...get(13), ...i32(2), ...shl,
    ...get(15), ...get(xi), ...get(13), ...mul, ...get(14), ...mul, ...i32(2), ...shl, ...add, ...get(14), ...i32(2), ...shl,
    ...get(17), ...get(xi), ...get(planeM), ...mul, ...add, ...get(14), ...i32(2), ...shl,
    ...get(tiles), ...i32(2), ...[0x76], ...get(14), ...get(13), ...get(13), ...i32(0),
    ...call(4),
    ...get(xi), ...i32(1), ...add, ...tee(xi), ...i32(16), ...[0x49], ...brIf(0),
    ...end,
    // Output transform, tile row by tile row (output rows 2 apart).
    ...get(17), ...set(mRow), ...get(12), ...set(r),
    ...loop,
    ...get(19), ...[0x04, 0x40], ...outArgs, ...call(3), ...[0x05], ...outArgs, ...call(2), ...end,
    ...get(oRow), ...get(5), ...i32(1), ...shl, ...add, ...set(oRow),
    ...get(mRow), ...get(11), ...get(14), ...mul, ...i32(2), ...shl, ...add, ...set(mRow),
    ...get(r), ...i32(1), ...sub, ...tee(r), ...brIf(0),
    ...end,
    ...get(b), ...i32(1), ...add, ...set(b),
    ...get(10), ...i32(1), ...sub, ...tee(10), ...brIf(0),
    ...end, ...end,
  ]
  return body([[10, I32]], code)
}

export const WINOGRAD_MODULE = defineLoopModule(
  ['filterTransform', 'inputTransform', 'outputTransform', 'outputTransformRelu', 'gemm', 'fused', 'gemmTn', 'dyTransform', 'filterOutTransform', 'fusedGrad'],
  moduleBytes,
)

const instances = new WeakMap<object, WinogradLoops | null>()

/**
 * Internal switches: off, or the smallest input channel count (fused, or not) and largest tile count (not
 * fused) it takes on.
 */
export const winogradTuning = { enabled: true, minChannels: 32, maxTiles: 16384, minChannelsFused: 8 }

function winogradLoops(backend: WasmBackendLike): WinogradLoops | null {
  // Only where the other SIMD loops run too (the padding uses them).
  if (simdLoops(backend) === null) return null
  return instantiateLoops(backend, WINOGRAD_MODULE, instances)
}

/** Runs one of the loops once per argument list, over this thread and the helpers. */
function parallel(backend: WasmBackendLike, loops: WinogradLoops, name: keyof WinogradLoops, calls: number[][]): void {
  runParallel(parallelTarget(backend.wasm), WINOGRAD_MODULE, name, loops[name] as (...args: number[]) => void, calls)
}

type RawBatchMatMul = (
  aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number,
  transposeA: number, transposeB: number, outId: number,
) => void

const matMuls = new WeakMap<object, RawBatchMatMul>()

/** The backend's own BatchMatMul entry point, which takes the output tensor's id (ours: a plane of M). */
function rawBatchMatMul(backend: WasmBackendLike): RawBatchMatMul {
  let f = matMuls.get(backend.wasm)
  if (f === undefined) {
    const wasm = backend.wasm as unknown as { cwrap(name: string, ret: null, args: string[]): RawBatchMatMul }
    f = wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number'])
    matMuls.set(backend.wasm, f)
  }
  return f
}

const idOf = (backend: WasmBackendLike, info: TensorInfo) => backend.dataIdMap.get(info.dataId)!.id
const shapeBytes = (shape: number[]) => new Uint8Array(new Int32Array(shape).buffer)

/** M[ξ] = V[ξ] · U[ξ] for the 16 positions, as 16 XNNPACK GEMMs (where our GEMM cannot run). */
function xnnpackProducts(backend: WasmBackendLike, vOff: number, uOff: number, mOff: number, tiles: number, ci: number, co: number): void {
  const matMul = rawBatchMatMul(backend)
  const aShape = shapeBytes([1, tiles, ci])
  const bShape = shapeBytes([1, ci, co])
  for (let k = 0; k < 16; k++) {
    const a = aliasInfo(backend, vOff + k * tiles * ci * 4, [1, tiles, ci])
    const b = aliasInfo(backend, uOff + k * ci * co * 4, [1, ci, co])
    const c = aliasInfo(backend, mOff + k * tiles * co * 4, [1, tiles, co])
    try {
      matMul(idOf(backend, a), aShape, 3, idOf(backend, b), bShape, 3, 0, 0, idOf(backend, c))
    } finally {
      disposeAlias(backend, a)
      disposeAlias(backend, b)
      disposeAlias(backend, c)
    }
  }
}

/**
 * Internal switches of the fused loops: on or off (all, or the filter gradient's), the fewest channels (in and
 * out) of a filter gradient they take (with fewer the transforms cost more than the GEMM's tap loop), the most
 * tiles of one block; and counts of their runs.
 */
export const fusedTuning = { enabled: true, filterGrad: true, gradMinChannels: 32, targetTiles: 256, runs: 0, gradRuns: 0 }

/**
 * Blocks for the fused loop: `rows` tile rows of one image (a divisor of the tile rows, M = rows · tw tiles a
 * multiple of 4, V of a block near 256 KB), and the calls, each with scratch of its own: a few per thread, which
 * the threads take as they come free (see `parallel.ts`); null where no such block exists or our
 * GEMM cannot run (the three steps then run one after the other over all tiles).
 */
function fusedPlan(backend: WasmBackendLike, loops: WinogradLoops, n: number, th: number, tw: number, ci: number, callsPerThread = 4): { rows: number; tiles: number; calls: number } | null {
  if (!fusedTuning.enabled || gemmLoops(backend) === null || typeof loops.fused !== 'function') return null
  const target = Math.min(fusedTuning.targetTiles, Math.max(64, Math.floor(8192 / ci)))
  let rows = 0
  for (let r = 1; r <= th; r++) if (th % r === 0 && (r * tw) % GEMM_MR === 0 && (rows === 0 || r * tw <= target)) rows = r
  if (rows === 0) return null
  const blocks = (n * th) / rows
  const threads = gemmThreads(backend)
  return { rows, tiles: rows * tw, calls: threads === 1 ? 1 : Math.max(1, Math.min(blocks, callsPerThread * threads)) }
}

/** x [n, h, w, c] into `padded` [n, h + 2, w + 2, c]: one zero border row and column on each side. */
function padInput(backend: WasmBackendLike, simd: SimdLoops, x: TensorInfo, padded: TensorInfo): void {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const pw = w + 2
  const p = heapF32(backend, padded)
  // Only the border is zeroed: the copy fills the rest.
  for (let img = 0; img < n; img++) {
    const top = img * (h + 2) * pw * ci
    p.fill(0, top, top + pw * ci)
    p.fill(0, top + (h + 1) * pw * ci, top + (h + 2) * pw * ci)
    for (let i = 1; i <= h; i++) {
      const row = top + i * pw * ci
      p.fill(0, row, row + ci)
      p.fill(0, row + (w + 1) * ci, row + pw * ci)
    }
  }
  const xOff = offsetOf(backend, x)
  const pOff = offsetOf(backend, padded)
  const copies: number[][] = []
  for (let img = 0; img < n; img++) {
    for (let i = 0; i < h; i += 8) {
      const rows = Math.min(8, h - i)
      copies.push([xOff + (img * h + i) * w * ci * 4, w * ci * 4, pOff + ((img * (h + 2) + 1 + i) * pw + 1) * ci * 4, pw * ci * 4, rows, (w * ci) / 4])
    }
  }
  simdParallel(backend, simd, 'copyRows', copies)
}

/**
 * The filter gradient of a 3 × 3, stride-1, pad-1 convolution of x [N, H, W, C_in] (H, W even, channels
 * divisible by 4) with output gradient dy [N, H, W, C_out], as Winograd F(2×2, 3×3) transposed:
 * dW = Gᵀ [ Σ_tiles (Bᵀ d B) ⊙ (A dy Aᵀ) ] G, 4 multiply-adds where the direct sum takes 9. Blocks of tiles run
 * through both transforms and the 16 products (`tn`, accumulated over blocks) while in cache, one call per
 * thread with a partial sum of its own; the partial sums are added in the output transform. The caller
 * checks the case with {@link winogradFilterGradCase}.
 *
 * @returns [3, 3, C_in, C_out], the caller's to dispose.
 */
export function winogradFilterGrad(backend: WasmBackendLike, loops: WinogradLoops, x: TensorInfo, dy: TensorInfo): TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const co = dy.shape[3] as number
  const th = h / 2
  const tw = w / 2
  // Two calls per thread: each holds a partial sum [16, C_in, C_out] of its own.
  const plan = fusedPlan(backend, loops, n, th, tw, Math.max(ci, co), 2)!
  const pw = w + 2
  const padded = backend.makeOutput([n, h + 2, pw, ci], 'float32')
  const partial = backend.makeOutput([plan.calls, 16, ci, co], 'float32')
  const v = backend.makeOutput([plan.calls, scratchFloats(plan.tiles, ci)], 'float32')
  const g = backend.makeOutput([plan.calls, scratchFloats(plan.tiles, co)], 'float32')
  const dw = backend.makeOutput([3, 3, ci, co], 'float32')
  try {
    padInput(backend, simdLoops(backend)!, x, padded)
    heapF32(backend, partial).fill(0)
    const pOff = offsetOf(backend, padded)
    const cOff = offsetOf(backend, partial)
    const blocksPerImage = th / plan.rows
    const blocks = n * blocksPerImage
    const per = Math.ceil(blocks / plan.calls)
    const calls: number[][] = []
    for (let k = 0; k * per < blocks; k++) {
      calls.push([
        pOff, pw * ci * 4, (h + 2) * pw * ci * 4, 2 * plan.rows * pw * ci * 4,
        offsetOf(backend, dy), w * co * 4, h * w * co * 4, 2 * plan.rows * w * co * 4,
        blocksPerImage, k * per, Math.min(per, blocks - k * per), tw, plan.rows, ci, co,
        cOff + k * 16 * ci * co * 4, offsetOf(backend, v) + k * scratchFloats(plan.tiles, ci) * 4, offsetOf(backend, g) + k * scratchFloats(plan.tiles, co) * 4,
      ])
    }
    parallel(backend, loops, 'fusedGrad', calls)
    const n4 = (ci * co) / 4
    const chunk = Math.ceil(n4 / 8)
    const outCalls: number[][] = []
    for (let k = 0; k < n4; k += chunk) {
      outCalls.push([cOff + k * 16, ci * co * 4, 16 * ci * co * 4, calls.length, offsetOf(backend, dw) + k * 16, Math.min(chunk, n4 - k)])
    }
    parallel(backend, loops, 'filterOutTransform', outCalls)
    fusedTuning.gradRuns++
    return dw
  } catch (error) {
    disposeInfo(backend, dw)
    throw error
  } finally {
    disposeInfo(backend, padded)
    disposeInfo(backend, partial)
    disposeInfo(backend, v)
    disposeInfo(backend, g)
  }
}

/** Whether {@link winogradFilterGrad} takes this filter gradient (and the loops it needs, if so). */
export function winogradFilterGradCase(
  backend: WasmBackendLike,
  x: TensorInfo,
  dy: TensorInfo,
  g: { filterHeight: number; filterWidth: number; strideHeight: number; strideWidth: number; padTop: number; padLeft: number; outHeight: number; outWidth: number },
): WinogradLoops | null {
  if (!winogradTuning.enabled || !fusedTuning.filterGrad || x.dtype !== 'float32' || dy.dtype !== 'float32') return null
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const co = dy.shape[3] as number
  if (g.filterHeight !== 3 || g.filterWidth !== 3 || g.strideHeight !== 1 || g.strideWidth !== 1 || g.padTop !== 1 || g.padLeft !== 1) return null
  if (g.outHeight !== h || g.outWidth !== w || h % 2 !== 0 || w % 2 !== 0 || ci % 4 !== 0 || co % 4 !== 0 || Math.min(ci, co) < fusedTuning.gradMinChannels) return null
  const loops = winogradLoops(backend)
  if (loops === null || fusedPlan(backend, loops, n, h / 2, w / 2, Math.max(ci, co)) === null) return null
  return loops
}

/**
 * y = conv(x, filter, 3 × 3, stride 1, pad 1) (+ bias) (then ReLU), x [N, H, W, C_in] with H and W even,
 * channels divisible by 4. The caller checks the case.
 */
export function winogradConv3x3(
  backend: WasmBackendLike,
  loops: WinogradLoops,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | null,
  relu: boolean,
): TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const co = filter.shape[3] as number
  const th = h / 2
  const tw = w / 2
  const tiles = n * th * tw
  const pw = w + 2
  const padded = backend.makeOutput([n, h + 2, pw, ci], 'float32')
  const u = backend.makeOutput([16, ci, co], 'float32')
  const plan = fusedPlan(backend, loops, n, th, tw, ci)
  // Fused: V and M of one block per call (each call is one thread's share); otherwise of every tile.
  const v = backend.makeOutput(plan === null ? [16, tiles, ci] : [plan.calls, scratchFloats(plan.tiles, ci)], 'float32')
  const m = backend.makeOutput(plan === null ? [16, tiles, co] : [plan.calls, scratchFloats(plan.tiles, co)], 'float32')
  const out = backend.makeOutput([n, h, w, co], 'float32')
  try {
    return withScratch(backend, bias === null ? co : 4, (zeros) => {
      const simd = simdLoops(backend)!
      padInput(backend, simd, x, padded)
      const pOff = offsetOf(backend, padded)
      const uOff = offsetOf(backend, u)
      const fOff = offsetOf(backend, filter)
      const n4 = (ci * co) / 4
      const chunk = Math.ceil(n4 / 8)
      const filterCalls: number[][] = []
      for (let k = 0; k < n4; k += chunk) filterCalls.push([fOff + k * 16, uOff + k * 16, ci * co * 4, Math.min(chunk, n4 - k)])
      parallel(backend, loops, 'filterTransform', filterCalls)
      const vOff = offsetOf(backend, v)
      const mOff = offsetOf(backend, m)
      const outOff = offsetOf(backend, out)
      const biasOff = bias === null ? zeros : offsetOf(backend, bias)
      if (plan !== null) {
        const blocksPerImage = th / plan.rows
        const blocks = n * blocksPerImage
        const per = Math.ceil(blocks / plan.calls)
        const calls: number[][] = []
        for (let k = 0; k * per < blocks; k++) {
          calls.push([
            pOff, pw * ci * 4, (h + 2) * pw * ci * 4, 2 * plan.rows * pw * ci * 4,
            outOff, w * co * 4, h * w * co * 4, 2 * plan.rows * w * co * 4,
            blocksPerImage, k * per, Math.min(per, blocks - k * per), tw, plan.rows, ci, co,
            uOff, vOff + k * scratchFloats(plan.tiles, ci) * 4, mOff + k * scratchFloats(plan.tiles, co) * 4, biasOff, relu ? 1 : 0,
          ])
        }
        parallel(backend, loops, 'fused', calls)
        fusedTuning.runs++
        return out
      }
      const inputCalls: number[][] = []
      for (let img = 0; img < n; img++) {
        for (let ty = 0; ty < th; ty++) {
          inputCalls.push([pOff + (img * (h + 2) + 2 * ty) * pw * ci * 4, pw * ci * 4, vOff + (img * th + ty) * tw * ci * 4, tiles * ci * 4, tw, ci / 4])
        }
      }
      parallel(backend, loops, 'inputTransform', inputCalls)
      const gemm = gemmLoops(backend)
      if (gemm !== null) {
        const jobs: GemmJob[] = []
        for (let k = 0; k < 16; k++) {
          jobs.push({ a: vOff + k * tiles * ci * 4, lda: ci * 4, b: uOff + k * ci * co * 4, ldb: co * 4, c: mOff + k * tiles * co * 4, ldc: co * 4, m: tiles, n: co, k: ci })
        }
        runGemm(backend, gemm, gemmCalls(false, jobs))
      } else {
        xnnpackProducts(backend, vOff, uOff, mOff, tiles, ci, co)
      }
      const outputCalls: number[][] = []
      for (let img = 0; img < n; img++) {
        for (let ty = 0; ty < th; ty++) {
          outputCalls.push([mOff + (img * th + ty) * tw * co * 4, tiles * co * 4, outOff + (img * h + 2 * ty) * w * co * 4, w * co * 4, tw, co / 4, biasOff])
        }
      }
      parallel(backend, loops, relu ? 'outputTransformRelu' : 'outputTransform', outputCalls)
      return out
    })
  } catch (error) {
    disposeInfo(backend, out)
    throw error
  } finally {
    disposeInfo(backend, padded)
    disposeInfo(backend, u)
    disposeInfo(backend, v)
    disposeInfo(backend, m)
  }
}

/** Whether {@link winogradConv3x3} takes this convolution (and the loops it needs, if so). */
export function winogradCase(
  backend: WasmBackendLike,
  x: TensorInfo,
  filter: TensorInfo,
  attrs: { strides: number | [number, number]; pad: unknown; dataFormat?: string; dilations?: number | [number, number]; dimRoundingMode?: unknown },
): WinogradLoops | null {
  if (!winogradTuning.enabled || x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4) return null
  if (attrs.dataFormat === 'NCHW') return null
  const dil = attrs.dilations ?? 1
  if ((typeof dil === 'number' ? dil : Math.max(dil[0], dil[1])) !== 1) return null
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number]
  const [n, h, w] = x.shape as [number, number, number, number]
  if (kh !== 3 || kw !== 3 || ci % 4 !== 0 || co % 4 !== 0 || h % 2 !== 0 || w % 2 !== 0) return null
  const g = convGeometry(x.shape, filter.shape, attrs.strides, attrs.pad as never, attrs.dimRoundingMode as never)
  if (g.strideHeight !== 1 || g.strideWidth !== 1 || g.padTop !== 1 || g.padLeft !== 1 || g.outHeight !== h || g.outWidth !== w) return null
  const loops = winogradLoops(backend)
  if (loops === null) return null
  // Fused, blocks stay in cache at any size; one step after the other over all tiles, V and M are full-size
  // buffers, which pays only with more channels and fewer tiles.
  const fused = fusedPlan(backend, loops, n, h / 2, w / 2, ci) !== null
  if (fused ? ci < winogradTuning.minChannelsFused : ci < winogradTuning.minChannels || (n * h * w) / 4 > winogradTuning.maxTiles) return null
  return loops
}

/**
 * `FusedConv2D` on wasm: the 3 × 3 stride-1 'same' convolutions with a per-channel bias (or none) and a ReLU
 * (or none) through {@link winogradConv3x3}; everything else through the stock kernel. The environment
 * variable `UNET_WINOGRAD=0` turns it off (the stock kernel for every convolution).
 */
export function makeWinogradFusedConv2D(): KernelConfig {
  const stock = stockKernel(FusedConv2D)
  if (typeof process !== 'undefined' && process.env?.UNET_WINOGRAD === '0') winogradTuning.enabled = false
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const backend = args.backend as WasmBackendLike
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>
    const attrs = args.attrs as unknown as FusedConv2DAttrs
    const activation = attrs.activation ?? 'linear'
    const loops =
      x !== undefined && filter !== undefined && preluActivationWeights == null && (activation === 'linear' || activation === 'relu')
        ? winogradCase(backend, x, filter, attrs)
        : null
    const co = filter?.shape[3]
    if (loops === null || (bias != null && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== co))) {
      if (stock === undefined) {
        throw new WasmKernelError('KERNEL_UNSUPPORTED', 'FusedConv2D on wasm: the stock tfjs-backend-wasm kernel is not registered; import @tensorflow/tfjs-backend-wasm before registering the training kernels.')
      }
      return stock(args) as TensorInfo
    }
    return winogradConv3x3(backend, loops, x!, filter!, bias ?? null, activation === 'relu')
  }
  return { kernelName: FusedConv2D, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc }
}
