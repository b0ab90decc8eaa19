#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { Kernel } from './kernel'
import { installKernelSpec } from './kernelspec'
import { readConnectionFile } from './wire'

const USAGE = `usage:
  unet-kernel install [--user | --prefix DIR] [--name NAME] [--display-name NAME]
      write the Jupyter kernelspec (kernel.json)
  unet-kernel run CONNECTION_FILE
      start the kernel (Jupyter runs this through kernel.json)`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === 'install') {
    const { values } = parseArgs({
      args: rest,
      options: { user: { type: 'boolean' }, prefix: { type: 'string' }, name: { type: 'string' }, 'display-name': { type: 'string' } },
    })
    const { dir } = await installKernelSpec({
      ...(values.user ? { user: true } : {}),
      ...(values.prefix ? { prefix: values.prefix } : {}),
      ...(values.name ? { name: values.name } : {}),
      ...(values['display-name'] ? { displayName: values['display-name'] } : {}),
    })
    process.stdout.write(`installed kernelspec in ${dir}\n`)
    return 0
  }
  if (command === 'run' || (command && command.endsWith('.json'))) {
    const file = command === 'run' ? rest[0] : command
    if (!file) throw new Error('unet-kernel run needs the connection file Jupyter passes as {connection_file}')
    const kernel = new Kernel(await readConnectionFile(file))
    // With interrupt_mode "signal" (or Ctrl-C in a terminal) interrupts arrive as SIGINT.
    process.on('SIGINT', () => kernel.interrupt())
    process.on('SIGTERM', () => void kernel.close().then(() => process.exit(0)))
    await kernel.start()
    await kernel.closed
    return 0
  }
  const help = command === '--help' || command === '-h'
  ;(help ? process.stdout : process.stderr).write(`${USAGE}\n`)
  return help ? 0 : 2
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`unet-kernel: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)
