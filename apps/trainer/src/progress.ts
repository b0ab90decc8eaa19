import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import cliProgress from 'cli-progress'
import { MONITORS, type EpochLogs, type MonitorName } from '@unet/train'

/** What the training loop tells whoever watches it. */
export interface TrainReporter {
  /** Once, before the first step. */
  start(info: { runDir: string; backend: string; trainCount: number; validationCount: number; epochs: number; stepsPerEpoch: number; startEpoch: number; startStep: number; params: number; source: string }): void
  /** Before an epoch's first step. */
  epochStart(epoch: number, epochs: number, steps: number, startStep: number): void
  /** After each step. */
  step(info: { epoch: number; step: number; steps: number; loss: number; imagesPerSecond: number; lr: number }): void
  /** After an epoch's validation. */
  epochEnd(logs: EpochLogs, info: { improved: boolean; epochs: number; monitor: MonitorName }): void
  /** A checkpoint was written (logged, not printed). */
  checkpoint(info: { which: string; dir: string; epoch: number; step: number; globalStep: number }): void
  /** A free-form note (checkpoint saved, stopping…). */
  note(text: string): void
  /** A warning: printed on stderr whatever the output mode; the run goes on. */
  warn(text: string): void
  /** Files of the dataset skipped with --skip-bad (all of them go to the log). */
  skipped(problems: readonly { code: string; id?: string; file?: string; message: string }[]): void
  /** Once, at the end. */
  end(summary: Record<string, unknown>, table: string): void
}

/**
 * The reporter of the `unet` command: progress bars (loss, images/s, ETA) on a
 * terminal, a line per epoch otherwise, nothing but the summary with `quiet`,
 * JSON lines on stdout with `json`; every event is also appended to `logFile`
 * as one JSON line.
 *
 * @param options - quiet, json, logFile
 * @returns the reporter
 * @example
 * ```ts
 * const reporter = consoleReporter({ quiet: true, json: false, logFile: 'runs/a/log.jsonl' })
 * ```
 */
export function consoleReporter(options: { quiet: boolean; json: boolean; logFile: string | null }): TrainReporter {
  const tty = Boolean(process.stderr.isTTY) && !options.quiet && !options.json
  let bar: cliProgress.SingleBar | null = null
  let logBroken = false
  const log = (event: string, data: Record<string, unknown>): void => {
    const line = JSON.stringify({ time: new Date().toISOString(), event, ...data })
    if (options.logFile && !logBroken) {
      try {
        mkdirSync(dirname(options.logFile), { recursive: true })
        appendFileSync(options.logFile, line + '\n')
      } catch (error) {
        // a log that cannot be written (a full disk) must not fail the run: say so once, and go on without it
        logBroken = true
        process.stderr.write(`unet: warning: cannot write ${options.logFile} (${(error as Error).message}); going on without the log\n`)
      }
    }
    if (options.json) process.stdout.write(line + '\n')
  }
  const say = (text: string): void => {
    if (!options.quiet && !options.json) process.stdout.write(text + '\n')
  }
  let lastStepLog = 0
  let lastVal = 'val -'
  return {
    start(info) {
      log('start', info)
      say(
        `training on ${info.source}: ${info.trainCount} train / ${info.validationCount} validation images, ` +
          `${info.params.toLocaleString('en-US')} parameters, backend ${info.backend}, run dir ${info.runDir}` +
          (info.startEpoch > 0 || info.startStep > 0 ? ` (resuming at epoch ${info.startEpoch + 1}, step ${info.startStep + 1})` : ''),
      )
    },
    epochStart(epoch, epochs, steps, startStep) {
      log('epoch_start', { epoch, steps, startStep })
      if (tty) {
        bar = new cliProgress.SingleBar(
          {
            format: `epoch ${epoch + 1}/${epochs} {bar} {value}/{total} | loss {loss} | ${lastVal} | {ips} img/s | lr {lr} | ETA {eta_formatted}`,
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        )
        bar.start(steps, startStep, { loss: '-', ips: '-', lr: '-' })
      }
    },
    step(info) {
      const now = Date.now()
      if (now - lastStepLog > 2000 || info.step === info.steps - 1) {
        lastStepLog = now
        log('step', info)
      }
      bar?.update(info.step + 1, { loss: info.loss.toFixed(4), ips: info.imagesPerSecond.toFixed(1), lr: info.lr.toPrecision(2) })
    },
    epochEnd(logs, info) {
      bar?.stop()
      bar = null
      log('epoch_end', { ...logs, improved: info.improved })
      const value = logs[MONITORS[info.monitor].field]
      lastVal = `${info.monitor} ${Number.isFinite(value) ? value.toFixed(4) : '-'}`
      say(
        `epoch ${logs.epoch + 1}/${info.epochs}  loss ${fmt(logs.loss)}  val_loss ${fmt(logs.valLoss)}  val_iou ${fmt(logs.valIou)}  val_dice ${fmt(logs.valDice)}  ` +
          `val_tgs ${fmt(logs.valTgs)} @${logs.threshold.toFixed(2)}  lr ${logs.lr.toPrecision(2)}  ${logs.imagesPerSecond.toFixed(1)} img/s  ${logs.seconds.toFixed(1)} s` +
          (info.improved ? `  * best ${info.monitor}` : ''),
      )
    },
    checkpoint(info) {
      log('checkpoint', info)
    },
    note(text) {
      bar?.stop()
      bar = null
      log('note', { text })
      say(text)
    },
    warn(text) {
      bar?.stop()
      bar = null
      log('warning', { text })
      process.stderr.write(`unet: warning: ${text}\n`)
    },
    skipped(problems) {
      log('skipped', { count: problems.length, files: problems })
    },
    end(summary, table) {
      bar?.stop()
      bar = null
      log('end', summary)
      if (!options.json) process.stdout.write(table + '\n')
    },
  }
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(4) : String(v)
}

/**
 * A reporter that records nothing — for library use and tests.
 *
 * @returns the reporter
 * @example
 * ```ts
 * await train(config, { reporter: silentReporter() })
 * ```
 */
export function silentReporter(): TrainReporter {
  return { start() {}, epochStart() {}, step() {}, epochEnd() {}, checkpoint() {}, note() {}, warn() {}, skipped() {}, end() {} }
}

/**
 * Formats rows as an aligned text table.
 *
 * @param header - column names
 * @param rows - cells
 * @returns the table
 * @example
 * ```ts
 * formatTable(['epoch', 'loss'], [['1', '0.3']])
 * ```
 */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i] as number)).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}
