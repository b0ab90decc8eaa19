// Test helpers (not exported): write safetensors files in code, the layout loadEncoderWeights reads.

/** Encodes tensors as a safetensors file (F32 unless a dtype is given). */
export function encodeSafetensors(tensors: Record<string, { shape: number[]; values: Float32Array | Uint8Array; dtype?: string }>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } }
  const chunks: Uint8Array[] = []
  let offset = 0
  for (const [key, t] of Object.entries(tensors)) {
    const bytes = t.values instanceof Float32Array ? new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength) : t.values
    header[key] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] }
    chunks.push(bytes)
    offset += bytes.byteLength
  }
  const json = new TextEncoder().encode(JSON.stringify(header))
  const out = new Uint8Array(8 + json.length + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true)
  out.set(json, 8)
  let at = 8 + json.length
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}

/** The value a test file stores at element `i` of tensor number `k`: distinct per tensor and position. */
export function pattern(k: number, i: number): number {
  return Math.fround((((i * 31 + k * 17) % 101) - 50) / 500)
}
