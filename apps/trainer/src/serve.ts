import { InvalidArgumentError, type Command } from 'commander'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { TrainerError } from './errors'

/** The newest folder under ./runs holding a run.json, or null. */
function newestRun(cwd: string): string | null {
  const root = join(cwd, 'runs')
  if (!existsSync(root)) return null
  const runs = readdirSync(root)
    .map((name) => join(root, name, 'run.json'))
    .filter((file) => existsSync(file))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
  return runs[0] ? join(runs[0], '..') : null
}

function port(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number from 0 to 65535 (0 picks a free one)')
  return n
}

/** Resolves on the first Ctrl-C or SIGTERM. */
function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

/**
 * Adds `unet serve` to the program: the web page of @unet/web with a run's model, on 127.0.0.1 unless told
 * otherwise, until Ctrl-C.
 *
 * @param program - the `unet` program
 * @param options - `until`: when to stop (default: Ctrl-C or SIGTERM), for tests
 * @example
 * ```ts
 * addServeCommand(new Command('unet'))
 * ```
 */
export function addServeCommand(program: Command, options: { until?: () => Promise<void> } = {}): void {
  program
    .command('serve')
    .description("Open a page that segments your own images in the browser with a run's model; nothing leaves your machine.")
    .option('--model <run_dir>', 'run folder written by `unet train` (default: the newest under ./runs)')
    .option('--port <n>', 'port to listen on; 0 picks a free one (default: 8080)', port)
    .option('--host <address>', 'address to bind; 0.0.0.0 lets other machines in (default: 127.0.0.1, this machine only)')
    .action(async (opts: { model?: string; port?: number; host?: string }) => {
      const run = opts.model ?? newestRun(process.cwd())
      if (run === null) throw new TrainerError('NO_RUN', 'no run with a run.json under ./runs; pass --model RUN_DIR')
      const { serve } = await import('@unet/web')
      const server = await serve({ run, port: opts.port ?? 8080, host: opts.host ?? '127.0.0.1' })
      process.stdout.write('open the address above in a browser; Ctrl-C stops the server\n')
      try {
        await (options.until ?? untilInterrupted)()
      } finally {
        await server.close()
      }
    })
}
