import { loadNativeConv } from '../../../packages/runtime-native/src/index'
const a = loadNativeConv() as any
a.setThreads(1)
for (const [s, ci, co] of [[128, 16, 16], [128, 32, 16], [64, 32, 32], [32, 64, 64], [16, 128, 128], [16, 256, 128], [8, 256, 256]]) {
  const g = [8, s, s, ci, s, s, co, 3, 3, 1, 1, 1, 1, 1, 1]
  const x = new Float32Array(8 * s * s * ci).map(() => Math.random()), w = new Float32Array(9 * ci * co).map(() => Math.random() - 0.5), y = new Float32Array(8 * s * s * co).map(() => Math.random())
  const dx = new Float32Array(x.length), dw = new Float32Array(w.length)
  const time = (f: () => void) => { f(); const ts = []; for (let i = 0; i < 15; i++) { const t = performance.now(); f(); ts.push(performance.now() - t) } ts.sort((p, q) => p - q); return ts[7]!.toFixed(2) }
  // bwd_d as forward: dy (co ch) conv with rotated filter [3,3,co,ci]
  const wr = new Float32Array(w.length)
  for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) wr[(((2 - kh) * 3 + (2 - kw)) * co + o) * ci + i] = w[((kh * 3 + kw) * ci + i) * co + o]!
  const gr = [8, s, s, co, s, s, ci, 3, 3, 1, 1, 1, 1, 1, 1]
  const dx2 = new Float32Array(x.length)
  console.log(s, ci, co, 'fwd', time(() => a.conv(0, x, w, y, g)), a.implementation(0, g), 'bwd_d', time(() => a.conv(1, y, w, dx, g)), a.implementation(1, g), 'bwd_d-as-fwd', time(() => a.conv(0, y, wr, dx2, gr)), 'bwd_w', time(() => a.conv(2, x, y, dw, g)), a.implementation(2, g))
  let m = 0; for (let i = 0; i < dx.length; i++) m = Math.max(m, Math.abs(dx[i]! - dx2[i]!)); console.log('  maxdiff', m)
}
