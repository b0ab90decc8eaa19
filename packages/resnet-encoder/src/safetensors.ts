import { ResnetEncoderError } from './errors'

/** One tensor of a safetensors file, decoded to float32. */
export interface SafetensorsTensor {
  /** The dtype stored in the file (`F32`, `F16`, `BF16`, `F64`). */
  dtype: string
  shape: number[]
  /** Decoded values, row-major as stored. */
  values(): Float32Array
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 }
const FLOATS = new Set(['F32', 'F16', 'BF16', 'F64'])

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exponent = (h >> 10) & 0x1f
  const fraction = h & 0x3ff
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024)
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024)
}

/**
 * Reads the header of a safetensors file (8-byte little-endian header length, a JSON header, then raw
 * little-endian tensors) and gives each tensor's dtype, shape and values (decoded on demand). Values decode from
 * floating-point dtypes (F32, F16, BF16, F64), which is what model weights are stored as; integer tensors such
 * as `num_batches_tracked` are listed but not decoded.
 *
 * @param bytes - the whole file
 * @param source - where the bytes came from, for error messages
 * @returns tensors by key, in file order; `__metadata__` is left out
 * @throws {ResnetEncoderError} `BAD_FORMAT` naming what is wrong (and the tensor, when one is)
 * @example
 * ```ts
 * const tensors = readSafetensors(await readFile('resnet34.safetensors'), 'resnet34.safetensors')
 * tensors.get('conv1.weight')?.shape // [64, 3, 7, 7]
 * ```
 */
export function readSafetensors(bytes: Uint8Array, source: string): Map<string, SafetensorsTensor> {
  const fail = (message: string, tensor?: string): ResnetEncoderError =>
    new ResnetEncoderError('BAD_FORMAT', `${source}: ${message}`, tensor === undefined ? undefined : { tensor })
  if (bytes.byteLength < 8) throw fail('is too short to be a safetensors file (under 8 bytes)')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLength = Number(view.getBigUint64(0, true))
  if (headerLength > bytes.byteLength - 8 || headerLength > 100_000_000) {
    throw fail(`declares a ${headerLength}-byte header in a ${bytes.byteLength}-byte file; it is not a safetensors file or it is truncated`)
  }
  let header: Record<string, unknown>
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>
  } catch (cause) {
    throw new ResnetEncoderError('BAD_FORMAT', `${source}: its header is not JSON, so it is not a safetensors file`, { cause })
  }
  const dataStart = 8 + headerLength
  const tensors = new Map<string, SafetensorsTensor>()
  for (const [key, entry] of Object.entries(header)) {
    if (key === '__metadata__') continue
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
    if (typeof dtype !== 'string' || !Array.isArray(shape) || !Array.isArray(offsets) || offsets.length !== 2) {
      throw fail(`tensor '${key}' has no dtype, shape and data_offsets in the header`, key)
    }
    const size = BYTES[dtype]
    if (size === undefined) throw fail(`tensor '${key}' has the unknown dtype ${dtype}`, key)
    const count = (shape as number[]).reduce((a, b) => a * b, 1)
    const [begin, end] = offsets as [number, number]
    if (end - begin !== count * size || dataStart + end > bytes.byteLength || begin < 0) {
      throw fail(`tensor '${key}' (${dtype} [${shape.join(', ')}]) spans bytes ${begin}–${end}, which do not fit its shape or the file; the file is truncated or damaged`, key)
    }
    const at = dataStart + begin
    tensors.set(key, {
      dtype,
      shape: [...(shape as number[])],
      values() {
        if (!FLOATS.has(dtype)) throw fail(`tensor '${key}' is ${dtype}; only F32, F16, BF16 and F64 weights can be read`, key)
        const out = new Float32Array(count)
        const data = new DataView(bytes.buffer, bytes.byteOffset + at, count * size)
        if (dtype === 'F32') for (let i = 0; i < count; i++) out[i] = data.getFloat32(i * 4, true)
        else if (dtype === 'F64') for (let i = 0; i < count; i++) out[i] = data.getFloat64(i * 8, true)
        else if (dtype === 'F16') for (let i = 0; i < count; i++) out[i] = halfToFloat(data.getUint16(i * 2, true))
        else {
          // bfloat16 is the top half of a float32
          const word = new DataView(new ArrayBuffer(4))
          for (let i = 0; i < count; i++) {
            word.setUint32(0, data.getUint16(i * 2, true) << 16, true)
            out[i] = word.getFloat32(0, true)
          }
        }
        return out
      },
    })
  }
  return tensors
}
