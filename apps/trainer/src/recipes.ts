import type { TrainConfig } from './config'
import { TrainerError } from './errors'

/** A preset of `unet train --recipe`: settings applied under the config file and the flags (which override them). */
export interface RecipeDeclaration {
  /** One line for `--help`. */
  readonly description: string
  /** The config keys it sets. */
  readonly settings: Readonly<Partial<TrainConfig>>
}

/**
 * The presets of `--recipe`, declared once: the CLI's choices, help, the printed summary and `unet kfold` /
 * `unet pseudo-label` read this table.
 *
 * `tgs-winner` is the combination that scored best in the ablation of tools/parity (its README: 3 seeds, synthetic
 * TGS data): a ResNet-34 encoder, scSE decoder attention and hypercolumn, with the default optimizer and schedule.
 * Deep supervision, the Lovasz schedule and short cosine snapshots scored lower there and are left out; k folds
 * lifted the stack they averaged but stayed below this single model, and a pseudo-label round did not help. Batches of 8, because 16 of 128×128 exceed wasm's 4 GiB with the hypercolumn.
 *
 * @example
 * ```ts
 * RECIPES['tgs-winner'].settings.encoder // 'resnet34'
 * ```
 */
export const RECIPES = Object.freeze({
  'tgs-winner': {
    description: 'the best combination of the ablation in tools/parity: resnet34 encoder, scSE decoder attention, hypercolumn',
    settings: {
      encoder: 'resnet34',
      decoderAttention: 'scse',
      hypercolumn: true,
      epochs: 12,
      // 16 images of 128×128 through this net (hypercolumn: 496 channels at full resolution) exceed wasm's 4 GiB
      batchSize: 8,
    },
  },
} satisfies Record<string, RecipeDeclaration>)

/** A name of {@link RECIPES}. */
export type RecipeName = keyof typeof RECIPES

/** The names `--recipe` takes. */
export const RECIPE_NAMES: readonly RecipeName[] = Object.freeze(Object.keys(RECIPES) as RecipeName[])

/**
 * The settings of a preset, with `recipe` itself recorded.
 *
 * @param name - a name of {@link RECIPE_NAMES}
 * @returns the config layer to put under the config file and the flags
 * @throws {TrainerError} `BAD_CONFIG` for an unknown name, listing the valid ones
 * @example
 * ```ts
 * resolveTrainConfig(recipeSettings('tgs-winner'), fromFile, fromFlags)
 * ```
 */
export function recipeSettings(name: string): Partial<TrainConfig> {
  const recipe = (RECIPES as Record<string, RecipeDeclaration>)[name]
  if (!recipe) throw new TrainerError('BAD_CONFIG', `--recipe ${JSON.stringify(name)} is not a known recipe; use one of ${RECIPE_NAMES.join(', ')}`)
  return { ...structuredClone(recipe.settings), recipe: name }
}

/**
 * What a preset turned on, after the user's own settings: one `key=value` per setting it decided, and the keys the
 * user overrode.
 *
 * @param name - the recipe
 * @param explicitKeys - keys set by the config file or flags
 * @returns the lines to print
 * @example
 * ```ts
 * describeRecipe('tgs-winner', ['epochs']) // { applied: ['encoder=resnet34', …], overridden: ['epochs'] }
 * ```
 */
export function describeRecipe(name: string, explicitKeys: readonly string[]): { applied: string[]; overridden: string[] } {
  const settings = recipeSettings(name)
  const applied: string[] = []
  const overridden: string[] = []
  for (const [key, value] of Object.entries(settings)) {
    if (key === 'recipe') continue
    if (explicitKeys.includes(key)) overridden.push(key)
    else applied.push(`${key}=${key === 'lossSchedule' ? (value as { loss: string; fromEpoch: number }[]).map((p) => `${p.loss}@${p.fromEpoch}`).join(',') : String(value)}`)
  }
  return { applied, overridden }
}
