import {
  type Augmentation,
  affine,
  blur,
  brightness,
  brightnessContrast,
  compose,
  contrast,
  elasticTransform,
  gamma,
  gaussNoise,
  gridDistortion,
  horizontalFlip,
  hueSaturationValue,
  noise,
  oneOf,
  randomRotate90,
  rotate,
  shiftScaleRotate,
  transpose,
  verticalFlip,
} from './augment'
import { DataError } from './errors'

/** The type of one parameter: what a config may give and what the CLI's help says. */
export type ParamSpec =
  | { kind: 'number'; default: number; doc: string; min?: number; max?: number }
  | { kind: 'integer'; default: number; doc: string; min?: number }
  | { kind: 'range'; default: number | readonly [number, number]; doc: string }
  | { kind: 'enum'; default: string; values: readonly string[]; doc: string }

/** One registered augmentation: what it does, its parameters, and how to build it from them. */
export interface AugmentationSpec {
  doc: string
  /** `'geometric'` transforms move image and mask; `'pixel'` ones change the image only. */
  kind: 'geometric' | 'pixel'
  params: Record<string, ParamSpec>
  create(params: Record<string, unknown>, p: number | undefined): Augmentation
}

const BORDER = { kind: 'enum', default: 'reflect', values: ['reflect', 'constant'], doc: 'fill outside the image: mirrored (OpenCV REFLECT_101) or 0' } as const

/**
 * Every augmentation by name, with its parameters' types and defaults, in the
 * albumentations style (`{ "name": "rotate", "limit": 5, "p": 0.3 }`). This one
 * declaration is what configs, the CLI's help and its error messages read.
 * Every entry also takes `p`, the probability of applying it.
 */
export const AUGMENTATIONS = {
  horizontal_flip: { doc: 'mirror left–right', kind: 'geometric', params: {}, create: (_, p) => horizontalFlip({ p }) },
  vertical_flip: { doc: 'mirror top–bottom', kind: 'geometric', params: {}, create: (_, p) => verticalFlip({ p }) },
  random_rotate_90: { doc: 'rotate by 0, 90, 180 or 270 degrees', kind: 'geometric', params: {}, create: (_, p) => randomRotate90({ p }) },
  transpose: { doc: 'swap rows and columns', kind: 'geometric', params: {}, create: (_, p) => transpose({ p }) },
  rotate: {
    doc: 'rotate by an angle from ±limit degrees',
    kind: 'geometric',
    params: { limit: { kind: 'range', default: 90, doc: 'degrees: ±limit or [lo, hi]' }, border_mode: BORDER },
    create: (q, p) => rotate({ limit: q.limit as number, border: q.border_mode as 'reflect', p }),
  },
  shift_scale_rotate: {
    doc: 'shift, scale and rotate about the centre',
    kind: 'geometric',
    params: {
      shift_limit: { kind: 'range', default: 0.0625, doc: 'share of the side: ±limit or [lo, hi]' },
      scale_limit: { kind: 'range', default: 0.1, doc: 'scale is 1 + a draw from ±limit or [lo, hi]' },
      rotate_limit: { kind: 'range', default: 45, doc: 'degrees: ±limit or [lo, hi]' },
      border_mode: BORDER,
    },
    create: (q, p) =>
      shiftScaleRotate({
        shiftLimit: q.shift_limit as number,
        scaleLimit: q.scale_limit as number,
        rotateLimit: q.rotate_limit as number,
        border: q.border_mode as 'reflect',
        p,
      }),
  },
  affine: {
    doc: 'scale, translate, rotate and shear (x) in one map',
    kind: 'geometric',
    params: {
      scale: { kind: 'range', default: 1, doc: 'factor, or [lo, hi]' },
      translate_percent: { kind: 'range', default: 0, doc: 'share of the side: ±value or [lo, hi]' },
      rotate: { kind: 'range', default: 0, doc: 'degrees: ±value or [lo, hi]' },
      shear: { kind: 'range', default: 0, doc: 'x shear in degrees: ±value or [lo, hi]' },
      border_mode: { ...BORDER, default: 'constant' },
    },
    create: (q, p) =>
      affine({
        scale: q.scale as number,
        translatePercent: q.translate_percent as number,
        rotate: q.rotate as number,
        shear: q.shear as number,
        border: q.border_mode as 'constant',
        p,
      }),
  },
  grid_distortion: {
    doc: 'stretch and squeeze the cells of a grid',
    kind: 'geometric',
    params: {
      num_steps: { kind: 'integer', default: 5, min: 1, doc: 'grid cells per side' },
      distort_limit: { kind: 'range', default: 0.3, doc: 'cell size is 1 + a draw from ±limit or [lo, hi]' },
      border_mode: BORDER,
    },
    create: (q, p) =>
      gridDistortion({ numSteps: q.num_steps as number, distortLimit: q.distort_limit as number, border: q.border_mode as 'reflect', p }),
  },
  elastic_transform: {
    doc: 'smooth random displacement field',
    kind: 'geometric',
    params: {
      alpha: { kind: 'number', default: 10, min: 0, doc: 'largest displacement in pixels' },
      sigma: { kind: 'number', default: 8, min: 0, doc: 'smoothness of the field in pixels' },
      border_mode: BORDER,
    },
    create: (q, p) => elasticTransform({ alpha: q.alpha as number, sigma: q.sigma as number, border: q.border_mode as 'reflect', p }),
  },
  blur: {
    doc: 'box blur with a kernel size from blur_limit (2 allowed)',
    kind: 'pixel',
    params: { blur_limit: { kind: 'range', default: [3, 7], doc: 'kernel sizes lo, lo + 2, … ≤ hi; a number n means [min(n, 3), max(n, 3)]' } },
    create: (q, p) => blur({ blurLimit: q.blur_limit as number, p }),
  },
  random_brightness: {
    doc: 'add an offset from ±limit',
    kind: 'pixel',
    params: { limit: { kind: 'range', default: 0.2, doc: '±limit or [lo, hi], in [0, 1] image units' } },
    create: (q, p) => brightness({ limit: q.limit as number, p }),
  },
  random_contrast: {
    doc: 'scale about the mean by 1 + a draw from ±limit',
    kind: 'pixel',
    params: { limit: { kind: 'range', default: 0.2, doc: '±limit or [lo, hi]' } },
    create: (q, p) => contrast({ limit: q.limit as number, p }),
  },
  random_brightness_contrast: {
    doc: 'brightness and contrast in one step',
    kind: 'pixel',
    params: {
      brightness_limit: { kind: 'range', default: 0.2, doc: '±limit or [lo, hi]' },
      contrast_limit: { kind: 'range', default: 0.2, doc: '±limit or [lo, hi]' },
    },
    create: (q, p) => brightnessContrast({ brightnessLimit: q.brightness_limit as number, contrastLimit: q.contrast_limit as number, p }),
  },
  random_gamma: {
    doc: 'v^(g/100), g from gamma_limit',
    kind: 'pixel',
    params: { gamma_limit: { kind: 'range', default: [80, 120], doc: '[lo, hi] (a number: exactly that)' } },
    create: (q, p) => gamma({ gammaLimit: q.gamma_limit as number, p }),
  },
  gauss_noise: {
    doc: 'additive Gaussian noise',
    kind: 'pixel',
    params: {
      var_limit: { kind: 'range', default: [10, 50], doc: 'variance in 8-bit units: [lo, hi] (a number n: [0, n])' },
      mean: { kind: 'number', default: 0, doc: 'mean in 8-bit units' },
    },
    create: (q, p) => gaussNoise({ varLimit: q.var_limit as number, mean: q.mean as number, p }),
  },
  noise: {
    doc: 'additive Gaussian noise, standard deviation in image units',
    kind: 'pixel',
    params: { std: { kind: 'range', default: [0.01, 0.05], doc: '[lo, hi] in [0, 1] image units' } },
    create: (q, p) => noise({ std: q.std as number, p }),
  },
  hue_saturation_value: {
    doc: 'shift hue, saturation and value (RGB only)',
    kind: 'pixel',
    params: {
      hue_shift_limit: { kind: 'range', default: 20, doc: 'degrees: ±limit or [lo, hi]' },
      sat_shift_limit: { kind: 'range', default: 30, doc: '8-bit units: ±limit or [lo, hi]' },
      val_shift_limit: { kind: 'range', default: 20, doc: '8-bit units: ±limit or [lo, hi]' },
    },
    create: (q, p) =>
      hueSaturationValue({
        hueShiftLimit: q.hue_shift_limit as number,
        satShiftLimit: q.sat_shift_limit as number,
        valShiftLimit: q.val_shift_limit as number,
        p,
      }),
  },
} as const satisfies Record<string, AugmentationSpec>

/** A registered augmentation's name. */
export type AugmentationName = keyof typeof AUGMENTATIONS

type ParamValue<S> = S extends { kind: 'range' } ? number | [number, number] : S extends { kind: 'enum'; values: readonly (infer V)[] } ? V : number

/** A config entry for one augmentation: its name, its parameters (all optional) and `p`. */
export type AugmentationConfig =
  | {
      [N in AugmentationName]: { name: N; p?: number } & { -readonly [K in keyof (typeof AUGMENTATIONS)[N]['params']]?: ParamValue<(typeof AUGMENTATIONS)[N]['params'][K]> }
    }[AugmentationName]
  | { name: 'one_of'; transforms: AugmentationConfig[]; p?: number }
  | { name: 'compose'; transforms: AugmentationConfig[]; p?: number }

/** The names {@link createAugmentation} accepts (`one_of` and `compose` combine others). */
export const AUGMENTATION_NAMES: readonly string[] = [...Object.keys(AUGMENTATIONS), 'one_of', 'compose']

/** Lower case without `_`, `-` or spaces: `HorizontalFlip`, `horizontal_flip` and `horizontalFlip` are one name. */
function fold(name: string): string {
  return name.replace(/[_\-\s]/g, '').toLowerCase()
}

const BY_FOLDED = new Map<string, AugmentationName>(Object.keys(AUGMENTATIONS).map((n) => [fold(n), n as AugmentationName]))

function checkParam(where: string, key: string, spec: ParamSpec, value: unknown): unknown {
  const bad = (expected: string): never => {
    throw new DataError('BAD_OPTION', `${where}: ${key} must be ${expected}, got ${JSON.stringify(value)} (${spec.doc})`)
  }
  switch (spec.kind) {
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) bad('a number')
      if (spec.min !== undefined && (value as number) < spec.min) bad(`≥ ${spec.min}`)
      if (spec.max !== undefined && (value as number) > spec.max) bad(`≤ ${spec.max}`)
      return value
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) bad('an integer')
      if (spec.min !== undefined && (value as number) < spec.min) bad(`≥ ${spec.min}`)
      return value
    case 'range':
      if (typeof value === 'number' && Number.isFinite(value)) return value
      if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && Number.isFinite(v)) && value[0] <= value[1]) {
        return [value[0], value[1]]
      }
      return bad('a number or [lo, hi] with lo ≤ hi')
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) bad(`one of ${spec.values.join(', ')}`)
      return value
  }
}

/**
 * Builds an augmentation from a config entry the way albumentations users write
 * them: `{ name: 'rotate', limit: 5, p: 0.3 }`. Names and parameters may be
 * written `snake_case` (canonical), `camelCase` or as albumentations class names
 * (`HorizontalFlip`). `one_of` and `compose` take `transforms`. An unknown name
 * or parameter, or a value of the wrong type, throws a {@link DataError} listing the valid ones.
 *
 * @param config - one entry, or a list (composed in order)
 * @returns the augmentation
 * @example
 * ```ts
 * const whaleFlukes = createAugmentation([
 *   { name: 'blur', blur_limit: 2, p: 0.5 },
 *   { name: 'affine', shear: 5, p: 0.5 },
 *   { name: 'horizontal_flip', p: 0.5 },
 *   { name: 'rotate', limit: 5, p: 0.3 },
 *   { name: 'random_brightness_contrast', brightness_limit: 0.1, contrast_limit: 0.1, p: 0.2 },
 * ])
 * ```
 */
export function createAugmentation(config: AugmentationConfig | readonly AugmentationConfig[] | Record<string, unknown> | readonly Record<string, unknown>[]): Augmentation {
  if (Array.isArray(config)) return compose((config as readonly Record<string, unknown>[]).map((c) => createAugmentation(c)))
  const entry = config as Record<string, unknown>
  if (entry === null || typeof entry !== 'object' || typeof entry.name !== 'string') {
    throw new DataError(
      'UNKNOWN_AUGMENTATION',
      `an augmentation config needs a "name" (one of ${AUGMENTATION_NAMES.join(', ')}), got ${JSON.stringify(config)}`,
    )
  }
  const given = entry.name
  const p = entry.p
  if (p !== undefined && (typeof p !== 'number' || !(p >= 0 && p <= 1))) {
    throw new DataError('BAD_OPTION', `augmentation ${given}: p must be a number in [0, 1], got ${JSON.stringify(p)}`)
  }
  const folded = fold(given)
  if (folded === 'oneof' || folded === 'compose') {
    const extra = Object.keys(entry).filter((k) => !['name', 'p', 'transforms'].includes(k))
    if (extra.length > 0) {
      throw new DataError('UNKNOWN_PARAMETER', `augmentation ${given} has no parameter ${extra.join(', ')}; it takes: transforms, p`)
    }
    if (!Array.isArray(entry.transforms) || entry.transforms.length === 0) {
      throw new DataError('BAD_OPTION', `augmentation ${given} needs "transforms": a non-empty list of augmentation configs`)
    }
    const inner = (entry.transforms as Record<string, unknown>[]).map((c) => createAugmentation(c))
    return folded === 'oneof' ? oneOf(inner, { p: p as number | undefined }) : compose(inner, { p: p as number | undefined })
  }
  const name = BY_FOLDED.get(folded)
  if (name === undefined) {
    throw new DataError('UNKNOWN_AUGMENTATION', `unknown augmentation "${given}"; valid names: ${AUGMENTATION_NAMES.join(', ')}`)
  }
  const spec: AugmentationSpec = AUGMENTATIONS[name]
  const byFolded = new Map(Object.keys(spec.params).map((k) => [fold(k), k]))
  const params: Record<string, unknown> = {}
  for (const [key, spec_] of Object.entries(spec.params)) params[key] = spec_.default
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'name' || key === 'p') continue
    const canonical = byFolded.get(fold(key))
    if (canonical === undefined) {
      const valid = [...Object.keys(spec.params), 'p']
      throw new DataError('UNKNOWN_PARAMETER', `augmentation ${name} has no parameter "${key}"; it takes: ${valid.join(', ')}`)
    }
    params[canonical] = checkParam(`augmentation ${name}`, canonical, spec.params[canonical]!, value)
  }
  return spec.create(params, p as number | undefined)
}

/**
 * One line per augmentation, from the {@link AUGMENTATIONS} declaration: name,
 * parameters with defaults, and what it does. For a CLI's `--help` or an error message.
 *
 * @returns the lines, joined with newlines
 * @example
 * ```ts
 * console.log(describeAugmentations())
 * // horizontal_flip(p) — mirror left–right
 * // rotate(limit=90, border_mode=reflect, p) — rotate by an angle from ±limit degrees
 * ```
 */
export function describeAugmentations(): string {
  const lines = Object.entries(AUGMENTATIONS).map(([name, spec]: [string, AugmentationSpec]) => {
    const params = Object.entries(spec.params).map(([k, p]) => `${k}=${JSON.stringify(p.default).replace(/"/g, '')}`)
    return `${name}(${[...params, 'p'].join(', ')}) — ${spec.doc}`
  })
  lines.push('one_of(transforms, p) — apply one of the transforms, picked by their p', 'compose(transforms, p) — apply the transforms in order')
  return lines.join('\n')
}
