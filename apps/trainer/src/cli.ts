#!/usr/bin/env node
import { Command } from 'commander'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { TrainerError } from './errors'
import { addEvaluateCommand } from './commands/evaluate'
import { addMergeSubmissionsCommand } from './commands/merge-submissions'
import { addPredictCommand } from './commands/predict'
import { addReportCommand } from './commands/report'
import { addServeCommand } from './serve'
import { addSynthCommand } from './commands/synth'
import { addTrainCommand } from './commands/train'
import { addKfoldCommand } from './commands/kfold'
import { addPseudoLabelCommand } from './commands/pseudo-label'

/**
 * Builds the `unet` command line program (commander): one module per command under ./commands.
 *
 * @returns the program; `program.parseAsync(argv)` runs it
 * @example
 * ```ts
 * await createProgram().parseAsync(['node', 'unet', 'synth', '--out', 'data/synth'])
 * ```
 */
export function createProgram(): Command {
  const program = new Command('unet')
    .description('Train a U-Net on TGS-style segmentation data, choose the threshold, evaluate, and write Kaggle submissions.')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortOptions: false })
  addTrainCommand(program)
  addKfoldCommand(program)
  addPseudoLabelCommand(program)
  addEvaluateCommand(program)
  addPredictCommand(program)
  addMergeSubmissionsCommand(program)
  addReportCommand(program)
  addSynthCommand(program)
  addServeCommand(program)
  return program
}

/**
 * Runs the `unet` command: errors become one line on stderr and a non-zero exit code.
 *
 * @param argv - `process.argv`
 * @returns the exit code
 * @example
 * ```ts
 * process.exitCode = await main(process.argv)
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (error) {
    const e = error as Error & { code?: string }
    const known = error instanceof TrainerError || /Error$/.test(e.name ?? '')
    const lines = error instanceof TrainerError && error.problems.length > 1 ? error.problems : [e.message ?? String(error)]
    for (const line of lines) process.stderr.write(`unet: error: ${line}\n`)
    if (process.env.UNET_DEBUG) process.stderr.write(`${e.stack ?? ''}\n`)
    else if (!(error instanceof TrainerError) && !known) process.stderr.write('(set UNET_DEBUG=1 to see the stack trace)\n')
    return 1
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  // exit explicitly: the wasm backend's worker threads would otherwise keep the process alive
  void main(process.argv).then((code) => {
    process.stdout.write('', () => process.exit(code))
  })
}
