import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'

import { ModelFileError } from './errors'
import { loadModel, saveModel } from './io'

// Fault injection: `failOn(path)` makes the next filesystem step on a matching path fail, as a full disk,
// a killed process or a pulled plug would, part-way through a save.
type Step = 'open' | 'rename'
let fault: { step: Step; match: (path: string) => boolean } | undefined
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>()
  const check = (step: Step, path: unknown) => {
    if (fault && fault.step === step && fault.match(String(path))) {
      fault = undefined
      throw Object.assign(new Error(`injected ${step} failure`), { code: 'EIO' })
    }
  }
  return {
    ...actual,
    open: (async (path: string, ...rest: unknown[]) => {
      check('open', path)
      return (actual.open as (...a: unknown[]) => unknown)(path, ...rest)
    }) as typeof actual.open,
    rename: (async (from: string, to: string) => {
      check('rename', to)
      return actual.rename(from, to)
    }) as typeof actual.rename,
  }
})

let root: string
beforeAll(async () => {
  await tf.setBackend('cpu')
  root = mkdtempSync(join(tmpdir(), 'unet-runtime-crash-'))
})
afterAll(() => rmSync(root, { recursive: true, force: true }))
afterEach(() => {
  fault = undefined
})

function net(seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 1] })
  const init = () => tfl.initializers.glorotUniform({ seed })
  const x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', kernelInitializer: init() }).apply(input)
  const out = tfl.layers.conv2d({ filters: 1, kernelSize: 1, kernelInitializer: init() }).apply(x) as tfl.SymbolicTensor
  return tfl.model({ inputs: input, outputs: out })
}

function predict(model: tfl.LayersModel): number[] {
  return tf.tidy(() => Array.from((model.predict(tf.ones([1, 6, 6, 1])) as tf.Tensor).dataSync()))
}

const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]))

describe('a save that fails part-way leaves the previous model intact', () => {
  const cases: [string, Step, (dir: string) => (path: string) => boolean][] = [
    ['while writing a weight shard', 'open', () => (p) => /shard2of/.test(p)],
    ['while moving a weight shard into place', 'rename', () => (p) => /shard3of/.test(p)],
    ['while writing model.json', 'open', () => (p) => p.endsWith('model.json')],
    ['at the rename of model.json, the commit point', 'rename', (dir) => (p) => p === join(dir, 'model.json')],
  ]
  let n = 0
  for (const [when, step, match] of cases) {
    it(when, async () => {
      const dir = join(root, `case${n++}`)
      const previous = net(1)
      await saveModel(previous, dir, { shardSizeBytes: 96 })
      const before = snapshot(dir)
      const next = net(2)
      fault = { step, match: match(dir) }
      const error = await saveModel(next, dir, { shardSizeBytes: 96 }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(fault).toBeUndefined() // the failure did happen
      expect(error).toBeInstanceOf(ModelFileError)
      expect((error as ModelFileError).code).toBe('SAVE_FAILED')
      expect((error as ModelFileError).message).toMatch(/intact/)
      // Every file of the previous save is byte-for-byte as it was, and it still loads to the same model.
      const after = snapshot(dir)
      for (const [file, bytes] of Object.entries(before)) expect(after[file], file).toBe(bytes)
      expect(Object.keys(after).filter((f) => f.startsWith('.'))).toEqual([])
      const loaded = await loadModel(dir)
      expect(predict(loaded)).toEqual(predict(previous))
      // The next save succeeds and clears what the failed one left.
      await saveModel(next, dir, { shardSizeBytes: 96 })
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'))
      const listed = json.weightsManifest[0].paths.map((p: string) => basename(p)).sort()
      expect(readdirSync(dir).filter((f) => f !== 'model.json').sort()).toEqual(listed)
      const reloaded = await loadModel(dir)
      expect(predict(reloaded)).toEqual(predict(next))
      for (const m of [previous, next, loaded, reloaded]) m.dispose()
    })
  }

  it('ignores and later removes files a killed save left behind', async () => {
    const dir = join(root, 'killed')
    const model = net(3)
    await saveModel(model, dir)
    // What a process killed mid-save leaves: a half-written temp file and an orphan shard no model.json lists.
    writeFileSync(join(dir, '.unet-tmp-99999-abcdef-model.json'), '{"modelTop')
    writeFileSync(join(dir, 'group1-shard1of1-0123456789abcdef.bin'), new Uint8Array(10))
    const loaded = await loadModel(dir)
    expect(predict(loaded)).toEqual(predict(model))
    await saveModel(model, dir)
    expect(readdirSync(dir).filter((f) => f.startsWith('.') || f.includes('0123456789abcdef'))).toEqual([])
    model.dispose()
    loaded.dispose()
  })
})
