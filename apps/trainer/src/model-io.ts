import * as tf from '@tensorflow/tfjs-core'
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers'
import * as runtime from '@unet/runtime'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

type SaveModel = (model: LayersModel, dir: string, options?: { includeOptimizer?: boolean }) => Promise<void>
type LoadModel = (dir: string) => Promise<LayersModel>

const fromRuntime = runtime as unknown as { saveModel?: SaveModel; loadModel?: LoadModel }

function concatWeights(data: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  if (!data) return new Uint8Array(0)
  const parts = Array.isArray(data) ? data : [data]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) {
    out.set(new Uint8Array(p), o)
    o += p.byteLength
  }
  return out
}

/**
 * Saves a model in the tfjs layers format (`model.json` + `weights.bin`) into
 * `dir` — through @unet/runtime's atomic `saveModel` when it provides one; the
 * caller (a checkpoint) writes into a fresh temp folder that is renamed into
 * place, so either way the files appear all at once.
 *
 * @param model - the model
 * @param dir - folder to write
 * @returns once written
 * @example
 * ```ts
 * await writeModel(model, 'runs/a/.tmp-best')
 * ```
 */
export async function writeModel(model: LayersModel, dir: string): Promise<void> {
  if (fromRuntime.saveModel) return fromRuntime.saveModel(model, dir)
  await mkdir(dir, { recursive: true })
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = concatWeights(artifacts.weightData as ArrayBuffer | ArrayBuffer[] | undefined)
      await writeFile(join(dir, 'weights.bin'), weights)
      const json = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      }
      await writeFile(join(dir, 'model.json'), JSON.stringify(json))
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } }
    }),
  )
}

/**
 * Loads a model saved by {@link writeModel} (or any tfjs layers-format folder
 * with a single weights file list).
 *
 * @param dir - folder holding model.json
 * @returns the model
 * @example
 * ```ts
 * const model = await readModel('runs/a/best')
 * ```
 */
export async function readModel(dir: string): Promise<LayersModel> {
  if (fromRuntime.loadModel) return fromRuntime.loadModel(dir)
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[]
  }
  const specs: tf.io.WeightsManifestEntry[] = []
  const chunks: Uint8Array[] = []
  for (const group of json.weightsManifest) {
    specs.push(...group.weights)
    for (const p of group.paths) chunks.push(await readFile(join(dir, p)))
  }
  const weightData = concatWeights(chunks.map((c) => c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength) as ArrayBuffer))
  return loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: weightData.buffer as ArrayBuffer }))
}
