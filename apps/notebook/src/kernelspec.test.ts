import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { installKernelSpec, kernelsDir } from './kernelspec'

describe('kernelspec', () => {
  it('writes kernel.json with the connection file placeholder under --prefix', async () => {
    const prefix = mkdtempSync(join(tmpdir(), 'prefix-'))
    const { dir } = await installKernelSpec({ prefix, cliPath: '/opt/unet/cli.js' })
    expect(dir).toBe(join(prefix, 'share/jupyter/kernels/unet-typescript'))
    const spec = JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8'))
    expect(spec).toEqual({
      argv: [process.execPath, '/opt/unet/cli.js', 'run', '{connection_file}'],
      display_name: 'TypeScript (unet)',
      language: 'typescript',
      interrupt_mode: 'message',
      metadata: { debugger: false },
    })
  })
  it('finds the user folder from JUPYTER_DATA_DIR and refuses ambiguous or bad requests', async () => {
    const saved = process.env.JUPYTER_DATA_DIR
    process.env.JUPYTER_DATA_DIR = '/data/jupyter'
    try {
      expect(kernelsDir({ user: true })).toBe('/data/jupyter/kernels')
    } finally {
      if (saved === undefined) delete process.env.JUPYTER_DATA_DIR
      else process.env.JUPYTER_DATA_DIR = saved
    }
    expect(() => kernelsDir({ user: true, prefix: '/x' })).toThrow(/either --user or --prefix/)
    await expect(installKernelSpec({ prefix: '/x', name: '../escape' })).rejects.toThrow(/may only hold letters/)
    // A prefix that is a file cannot hold folders.
    const file = join(mkdtempSync(join(tmpdir(), 'prefix-')), 'a-file')
    writeFileSync(file, '')
    await expect(installKernelSpec({ prefix: file })).rejects.toMatchObject({ code: 'KERNELSPEC_WRITE_FAILED' })
  })
})
