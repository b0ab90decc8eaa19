// Runs the built `unet` command in a child process, for the end-to-end tests.
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'

/** The built CLI (apps/trainer/dist/cli.js). */
export const CLI = resolve(import.meta.dirname, '../../../apps/trainer/dist/cli.js')

/** What a run of the command left. */
export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * A `unet(...args)` that runs the command in `cwd`, asynchronously (the test worker stays responsive).
 *
 * @param cwd - the working folder
 * @param env - extra environment (e.g. `{ UNET_DEBUG: '1' }`)
 * @returns the runner
 */
export function cliIn(cwd: string, env: Record<string, string> = {}): (...args: string[]) => Promise<CliResult> {
  return (...args) =>
    new Promise((done, fail) => {
      const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, UNET_DEBUG: '', ...env } })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
      child.on('error', fail)
      child.on('close', (code) => done({ code, stdout, stderr }))
    })
}
