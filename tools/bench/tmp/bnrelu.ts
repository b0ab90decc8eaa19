import { loadNativeConv } from '../../../packages/runtime-native/src/index'
const a = loadNativeConv() as any
const time = (f: () => void) => { f(); const ts = []; for (let i = 0; i < 21; i++) { const t = performance.now(); f(); ts.push(performance.now() - t) } ts.sort((p, q) => p - q); return ts[10]! }
let tot = [0, 0, 0, 0]
for (const [s, c, k] of [[128, 16, 4], [64, 32, 4], [32, 64, 4], [16, 128, 4], [8, 256, 2]] as const) {
  const shape = [8, s, s, c], n = 8 * s * s * c
  const x = new Float32Array(n).map(() => Math.random() * 2 - 1), dy = new Float32Array(n).map(() => Math.random() - 0.5)
  const sc = new Float32Array(c).fill(1.1), sh = new Float32Array(c).fill(0.1), m = new Float32Array(c), v = new Float32Array(c)
  const y = new Float32Array(n), z = new Float32Array(n), dx = new Float32Array(n), dz = new Float32Array(n), ds = new Float32Array(c), db = new Float32Array(c)
  const ws = new Float32Array(a.batchNormReluWorkspace(shape, 1e-3))
  const sep = time(() => { a.batchNormForward(x, sc, sh, y, m, v, shape, 1e-3); a.relu(y, z) })
  const fused = time(() => a.batchNormForward(x, sc, sh, y, m, v, shape, 1e-3, ws))
  let md = 0; a.batchNormForward(x, sc, sh, y, m, v, shape, 1e-3); a.relu(y, z); a.batchNormForward(x, sc, sh, y, m, v, shape, 1e-3, ws); for (let i = 0; i < n; i++) md = Math.max(md, Math.abs(y[i]! - z[i]!))
  const sepB = time(() => { a.reluGrad(dy, z, dz); a.batchNormBackward(x, dz, m, v, sc, dx, ds, db, shape, 1e-3) })
  const dx1 = dx.slice()
  const fusedB = time(() => a.batchNormBackward(x, dy, m, v, sc, dx, ds, db, shape, 1e-3, ws))
  let mb = 0; for (let i = 0; i < n; i++) mb = Math.max(mb, Math.abs(dx[i]! - dx1[i]!))
  tot[0] += k * sep; tot[1] += k * fused; tot[2] += k * sepB; tot[3] += k * fusedB
  console.log(s, c, 'ws floats', ws.length, 'fwd sep', sep.toFixed(2), 'fused', fused.toFixed(2), md, 'bwd sep', sepB.toFixed(2), 'fused', fusedB.toFixed(2), mb)
}
console.log('step-weighted ms: fwd', tot[0].toFixed(1), '→', tot[1].toFixed(1), ' bwd', tot[2].toFixed(1), '→', tot[3].toFixed(1))
