import os from 'node:os'

/** Timing of a synchronous piece of work, as the micro-benchmarks here report it. */
export interface Timing {
  /** Wall-clock seconds per run: best and median. */
  wallMin: number
  wallMedian: number
  /** CPU seconds of this process per run (user + system): best and median. Other jobs on a shared machine inflate
   * wall-clock time far more than CPU time, so the CPU figures are the ones to compare. */
  cpuMin: number
  cpuMedian: number
}

/**
 * Runs `run` once to warm up (so the JIT has compiled the hot loop), then `times` more, and reports the best and
 * median wall-clock and CPU seconds.
 */
export function timeRuns(run: () => void, times: number): Timing {
  run()
  const wall: number[] = []
  const cpu: number[] = []
  for (let r = 0; r < times; r++) {
    const startCpu = process.cpuUsage()
    const start = process.hrtime.bigint()
    run()
    wall.push(Number(process.hrtime.bigint() - start) / 1e9)
    const used = process.cpuUsage(startCpu)
    cpu.push((used.user + used.system) / 1e6)
  }
  wall.sort((a, b) => a - b)
  cpu.sort((a, b) => a - b)
  const mid = Math.floor(times / 2)
  return { wallMin: wall[0] as number, wallMedian: wall[mid] as number, cpuMin: cpu[0] as number, cpuMedian: cpu[mid] as number }
}

/** The median of a list of numbers (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** The machine's load averages as `uptime` prints them (1, 5, 15 minutes), for reports of noisy timings. */
export function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(', ')
}
