import { writeFileAtomic } from '@unet/files'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KernelError } from './errors'

/** Where to install the kernelspec: the user's Jupyter data folder, a prefix, or the system folder. */
export interface InstallOptions {
  /** Install for the current user (`~/.local/share/jupyter/kernels` on Linux). */
  user?: boolean
  /** Install under `<prefix>/share/jupyter/kernels` (e.g. a virtualenv or conda env). */
  prefix?: string
  /** Kernel name, the folder name (default `unet-typescript`). */
  name?: string
  /** Name shown in Jupyter's launcher (default `TypeScript (unet)`). */
  displayName?: string
  /** The kernel's entry script (default: this package's `dist/cli.js`). */
  cliPath?: string
}

/** The contents of a kernel.json. */
export interface KernelSpec {
  argv: string[]
  display_name: string
  language: string
  interrupt_mode: 'message' | 'signal'
  metadata: Record<string, unknown>
}

/**
 * The kernelspec for this kernel: Node runs the CLI with Jupyter's `{connection_file}`, and
 * interrupts arrive as `interrupt_request` messages on the control channel.
 *
 * @param options - display name and entry script
 * @returns the kernel.json contents
 * @example
 * ```ts
 * kernelSpec().argv // [node, '/…/dist/cli.js', 'run', '{connection_file}']
 * ```
 */
export function kernelSpec(options: Pick<InstallOptions, 'displayName' | 'cliPath'> = {}): KernelSpec {
  const cli = options.cliPath ?? fileURLToPath(new URL('./cli.js', import.meta.url))
  return {
    argv: [process.execPath, resolve(cli), 'run', '{connection_file}'],
    display_name: options.displayName ?? 'TypeScript (unet)',
    language: 'typescript',
    interrupt_mode: 'message',
    metadata: { debugger: false },
  }
}

/**
 * The kernels folder a kernelspec goes into.
 *
 * @param options - `user` or `prefix` (neither: the system folder, as `jupyter kernelspec install` does)
 * @returns the folder holding one folder per kernel
 * @example
 * ```ts
 * kernelsDir({ prefix: '/opt/venv' }) // '/opt/venv/share/jupyter/kernels'
 * ```
 */
export function kernelsDir(options: Pick<InstallOptions, 'user' | 'prefix'> = {}): string {
  if (options.user && options.prefix) {
    throw new KernelError('KERNELSPEC_WRITE_FAILED', 'choose either --user or --prefix, not both')
  }
  if (options.prefix) return join(resolve(options.prefix), 'share', 'jupyter', 'kernels')
  if (options.user) {
    if (process.env.JUPYTER_DATA_DIR) return join(process.env.JUPYTER_DATA_DIR, 'kernels')
    if (process.platform === 'darwin') return join(homedir(), 'Library', 'Jupyter', 'kernels')
    if (process.platform === 'win32') return join(process.env.APPDATA ?? homedir(), 'jupyter', 'kernels')
    return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'jupyter', 'kernels')
  }
  return process.platform === 'win32' ? join(process.env.PROGRAMDATA ?? 'C:\\ProgramData', 'jupyter', 'kernels') : '/usr/local/share/jupyter/kernels'
}

/**
 * Writes `kernel.json` for this kernel (atomically: a temp file renamed into place).
 *
 * @param options - where, under which name
 * @returns the folder written and the spec
 * @throws KernelError `KERNELSPEC_WRITE_FAILED` when the folder is not writable
 * @example
 * ```ts
 * const { dir } = await installKernelSpec({ user: true })
 * ```
 */
export async function installKernelSpec(options: InstallOptions = {}): Promise<{ dir: string; spec: KernelSpec }> {
  const name = options.name ?? 'unet-typescript'
  if (!/^[a-z0-9._-]+$/i.test(name)) {
    throw new KernelError('KERNELSPEC_WRITE_FAILED', `kernel name "${name}" may only hold letters, digits, ".", "_" and "-"`)
  }
  const dir = join(kernelsDir(options), name)
  const spec = kernelSpec(options)
  try {
    await writeFileAtomic(join(dir, 'kernel.json'), `${JSON.stringify(spec, null, 2)}\n`, { mkdir: true })
  } catch (cause) {
    throw new KernelError('KERNELSPEC_WRITE_FAILED', `cannot write the kernelspec to ${dir}; use --user, or --prefix DIR with a folder you can write`, { cause })
  }
  return { dir, spec }
}
