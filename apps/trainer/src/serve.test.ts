import { Command } from 'commander'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { createProgram } from './cli'
import { addServeCommand } from './serve'

const roots: string[] = []
afterEach(() => {
  vi.restoreAllMocks()
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true })
})

function runFolder(): string {
  const root = mkdtempSync(join(tmpdir(), 'unet-serve-cli-'))
  roots.push(root)
  mkdirSync(join(root, 'best'))
  writeFileSync(join(root, 'best', 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['./group1-shard1of1.bin'], weights: [] }] }))
  writeFileSync(join(root, 'best', 'group1-shard1of1.bin'), 'w')
  writeFileSync(join(root, 'config.json'), '{}')
  writeFileSync(join(root, 'run.json'), JSON.stringify({
    format: 'unet-run', version: 2, model: 'best/model.json', input: { width: 8, height: 8, channels: 1 },
    prepare: { mode: 'resize', interpolation: 'bilinear' }, scale: 'unit', output: { classes: 1, activation: 'sigmoid' }, threshold: 0.5,
    rle: { order: 'column', idColumn: 'id', idSuffix: '' }, layout: 'synthetic', monitor: { name: 'val_dice', mode: 'max', best: 0.5, epoch: 1 }, encoder: 'plain',
  }))
  return root
}

it('unet has a serve command', () => {
  expect(createProgram().commands.map((c) => c.name())).toContain('serve')
})

it('unet serve prints the URL on 127.0.0.1 and serves the page and the run, nothing else, until stopped', async () => {
  const run = runFolder()
  let stop!: () => void
  const stopped = new Promise<void>((r) => (stop = r))
  const lines: string[] = []
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true))
  const program = new Command('unet').exitOverride()
  addServeCommand(program, { until: () => stopped })
  const done = program.parseAsync(['node', 'unet', 'serve', '--model', run, '--port', '0'])
  await vi.waitFor(() => expect(lines.join('')).toMatch(/http:\/\/127\.0\.0\.1:\d+\//), { timeout: 10_000 })
  const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(lines.join(''))![0]
  expect((await fetch(url)).status).toBe(200)
  expect(await (await fetch(`${url}run/run.json`)).json()).toMatchObject({ format: 'unet-run' })
  expect((await fetch(`${url}run/best/group1-shard1of1.bin`)).status).toBe(200)
  expect((await fetch(`${url}run/config.json`)).status).toBe(404)
  stop()
  await done
  await expect(fetch(url)).rejects.toThrow()
})

it('unet serve refuses a bad port and a folder without a run', async () => {
  const program = new Command('unet').exitOverride().configureOutput({ writeErr: () => {} })
  addServeCommand(program, { until: async () => {} })
  await expect(program.parseAsync(['node', 'unet', 'serve', '--port', '70000'])).rejects.toThrow(/port number/)
  await expect(program.parseAsync(['node', 'unet', 'serve', '--model', join(tmpdir(), 'no-such-run-here')])).rejects.toThrow(/run\.json cannot be read/)
})
