import type { LayersModel } from '@tensorflow/tfjs-layers'
import { loadModel, saveModel } from '@unet/runtime'

/**
 * Saves a model in the tfjs layers format (`model.json` + weight shards) into
 * `dir` through @unet/runtime's atomic `saveModel`. The optimizer is not
 * included: checkpoints store its slots beside the model themselves (see
 * `saveCheckpoint`), so they can be restored into a freshly compiled model.
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
  await saveModel(model, dir)
}

/**
 * Loads a model saved by {@link writeModel}, uncompiled.
 *
 * @param dir - folder holding model.json
 * @returns the model
 * @example
 * ```ts
 * const model = await readModel('runs/a/best')
 * ```
 */
export async function readModel(dir: string): Promise<LayersModel> {
  return loadModel(dir)
}
