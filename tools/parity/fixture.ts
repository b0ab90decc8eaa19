import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Where one array sits in a fixture's data.bin: its shape and its offset in float32 values. */
export interface FixtureEntry {
  shape: number[]
  offset: number
}

/**
 * Collects the float32 arrays of a parity case (weights, input, output) and writes them as the pair the Python
 * side reads: `data.bin` (all arrays back to back) and `manifest.json` (their shapes and offsets, and the rest).
 */
export class FixtureWriter {
  private readonly chunks: Float32Array[] = []
  private offset = 0

  /** Adds an array; returns the manifest entry that points at it. */
  put(values: Float32Array, shape: number[]): FixtureEntry {
    this.chunks.push(values)
    const entry = { shape, offset: this.offset }
    this.offset += values.length
    return entry
  }

  /** Writes data.bin and manifest.json into `dir`. */
  write(dir: string, manifest: object): void {
    const data = new Float32Array(this.offset)
    let at = 0
    for (const chunk of this.chunks) {
      data.set(chunk, at)
      at += chunk.length
    }
    writeFileSync(join(dir, 'data.bin'), new Uint8Array(data.buffer))
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest))
  }
}
