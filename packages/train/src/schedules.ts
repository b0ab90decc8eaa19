import { TrainError } from './errors'

/** One learning-rate schedule, declared once (the CLI's choices and help read it). */
export interface ScheduleDeclaration {
  readonly description: string
}

/**
 * The learning-rate schedules.
 *
 * @example
 * ```ts
 * import { LR_SCHEDULES } from '@unet/train'
 * Object.keys(LR_SCHEDULES) // ['plateau', 'cosine', 'step', 'none']
 * ```
 */
export const LR_SCHEDULES = Object.freeze({
  plateau: { description: 'multiply by the factor when the monitor stalls for the LR patience (reduce-LR-on-plateau)' },
  cosine: { description: 'cosine annealing with warm restarts every cycle (SGDR); a snapshot checkpoint at each cycle end' },
  step: { description: 'multiply by the factor every step-epochs epochs' },
  none: { description: 'constant learning rate' },
} as const satisfies Record<string, ScheduleDeclaration>)

/** A schedule's name. */
export type ScheduleName = keyof typeof LR_SCHEDULES

/** The schedule names, in declaration order. */
export const SCHEDULE_NAMES: readonly ScheduleName[] = Object.freeze(Object.keys(LR_SCHEDULES) as ScheduleName[])

/** A schedule with its parameters. `plateau` is driven by the monitor (the {@link reduceLrOnPlateau} callback), the others by the step. */
export type LrSchedule =
  | { readonly name: 'none' }
  | { readonly name: 'plateau'; readonly patience: number; readonly factor: number; readonly minLr: number }
  | { readonly name: 'step'; readonly everyEpochs: number; readonly factor: number }
  | { readonly name: 'cosine'; readonly cycleEpochs: number; readonly cycleMult: number; readonly minLr: number }

/**
 * The learning rate at a point of the run for the step-driven schedules (`none`, `step`, `cosine`); `null` for
 * `plateau`, whose rate is whatever the callback has set.
 *
 * A pure function of (epoch, step), so a resumed run uses the very rates an uninterrupted one does.
 *
 * @param schedule - the schedule
 * @param baseLr - the rate at the start
 * @param epoch - 0-based epoch
 * @param step - step within the epoch
 * @param stepsPerEpoch - steps per epoch
 * @returns the rate, or null for `plateau`
 * @example
 * ```ts
 * learningRateAt({ name: 'cosine', cycleEpochs: 4, cycleMult: 1, minLr: 0 }, 0.01, 2, 0, 10) // 0.005
 * ```
 */
export function learningRateAt(schedule: LrSchedule, baseLr: number, epoch: number, step: number, stepsPerEpoch: number): number | null {
  switch (schedule.name) {
    case 'none':
      return baseLr
    case 'plateau':
      return null
    case 'step':
      return baseLr * schedule.factor ** Math.floor(epoch / schedule.everyEpochs)
    case 'cosine': {
      const { start, length } = cosineCycle(schedule, epoch)
      const t = (epoch - start + step / stepsPerEpoch) / length
      return schedule.minLr + 0.5 * (baseLr - schedule.minLr) * (1 + Math.cos(Math.PI * t))
    }
  }
}

/**
 * The cosine cycle an epoch falls in: its index, first epoch and length in epochs (cycles grow by `cycleMult`).
 *
 * @param schedule - the cosine schedule
 * @param epoch - 0-based epoch
 * @returns index, start and length of its cycle
 * @example
 * ```ts
 * cosineCycle({ name: 'cosine', cycleEpochs: 2, cycleMult: 2, minLr: 0 }, 3) // { index: 1, start: 2, length: 4 }
 * ```
 */
export function cosineCycle(schedule: Extract<LrSchedule, { name: 'cosine' }>, epoch: number): { index: number; start: number; length: number } {
  let start = 0
  let length = schedule.cycleEpochs
  let index = 0
  while (epoch >= start + length) {
    start += length
    length = Math.max(1, Math.round(length * schedule.cycleMult))
    index += 1
  }
  return { index, start, length }
}

/**
 * Checks a schedule's parameters.
 *
 * @param schedule - the schedule
 * @returns one line per problem
 * @example
 * ```ts
 * checkSchedule({ name: 'step', everyEpochs: 0, factor: 0.5 }) // ['step schedule: every-epochs must be …']
 * ```
 */
export function checkSchedule(schedule: LrSchedule): string[] {
  const p: string[] = []
  if (!Object.hasOwn(LR_SCHEDULES, schedule.name)) return [`unknown LR schedule ${JSON.stringify(schedule.name)}; use one of ${SCHEDULE_NAMES.join(', ')}`]
  const factor = (f: number): void => {
    if (!(f > 0 && f < 1)) p.push(`${schedule.name} schedule: factor must be between 0 and 1, got ${f}`)
  }
  if (schedule.name === 'step') {
    if (!(Number.isInteger(schedule.everyEpochs) && schedule.everyEpochs >= 1)) p.push(`step schedule: step epochs must be an integer ≥ 1, got ${schedule.everyEpochs}`)
    factor(schedule.factor)
  }
  if (schedule.name === 'plateau') {
    if (!(Number.isInteger(schedule.patience) && schedule.patience >= 0)) p.push(`plateau schedule: patience must be an integer ≥ 0, got ${schedule.patience}`)
    factor(schedule.factor)
  }
  if (schedule.name === 'cosine') {
    if (!(Number.isInteger(schedule.cycleEpochs) && schedule.cycleEpochs >= 1)) p.push(`cosine schedule: cycle epochs must be an integer ≥ 1, got ${schedule.cycleEpochs}`)
    if (!(schedule.cycleMult >= 1)) p.push(`cosine schedule: cycle multiplier must be ≥ 1, got ${schedule.cycleMult}`)
  }
  return p
}

/**
 * @internal Throws the problems of {@link checkSchedule}.
 */
export function assertSchedule(schedule: LrSchedule): void {
  const p = checkSchedule(schedule)
  if (p.length > 0) throw new TrainError('BAD_OPTION', p.join('; '))
}
