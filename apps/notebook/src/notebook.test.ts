// End to end with a real Jupyter client: Debian's python3-jupyter-client and python3-nbclient find the
// kernelspec that `unet-kernel install --prefix` wrote and run examples/tgs-salt.ipynb on the kernel.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { KERNEL_CLI } from '../test/client'

const root = fileURLToPath(new URL('..', import.meta.url))
const PYTHON = '/usr/bin/python3'

const probe = (modules: string) => existsSync(PYTHON) && spawnSync(PYTHON, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0
const CLIENT = 'jupyter_client, nbclient, nbformat'
const KERNEL_TEST = 'jupyter_kernel_test'
if (!probe(CLIENT) || !probe(KERNEL_TEST)) spawnSync('bash', [join(root, 'scripts/install-test-deps.sh')], { stdio: 'inherit' })
const available = probe(CLIENT)
const kernelTestAvailable = available && probe(KERNEL_TEST)

function warnSkipped(what: string, packages: string): void {
  console.warn(
    '\n'.repeat(2) +
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' +
      `!! SKIPPING ${what}: ${PYTHON} cannot import what it needs\n` +
      `!! and scripts/install-test-deps.sh could not install ${packages}.\n` +
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n',
  )
}
if (!available) warnSkipped('the jupyter_client/nbclient end-to-end tests', 'python3-jupyter-client and python3-nbclient')
else if (!kernelTestAvailable) warnSkipped('the jupyter_kernel_test suite', 'python3-jupyter-kernel-test')

/** Writes a kernelspec for the freshly built kernel under a temp prefix; returns the JUPYTER_PATH env. */
function installSpec(name: string): NodeJS.ProcessEnv {
  const prefix = mkdtempSync(join(tmpdir(), 'unet-kernelspec-'))
  execFileSync(process.execPath, [KERNEL_CLI, 'install', '--prefix', prefix, '--name', name])
  return { ...process.env, JUPYTER_PATH: join(prefix, 'share/jupyter'), JUPYTER_PLATFORM_DIRS: '1' }
}

interface Summary {
  error: string | null
  cells: { execution_count: number | null; outputs: { output_type: string; name?: string; text?: string; mime?: string[]; png_bytes?: number; svg?: string; ename?: string; evalue?: string }[] }[]
}

describe.skipIf(!kernelTestAvailable)('jupyter_kernel_test', () => {
  it('passes the jupyter_kernel_test suite (message schemas, stdout/stderr, errors, results, display, completion, is_complete, inspect, pager, history, clear_output)', () => {
    const run = spawnSync(PYTHON, ['-m', 'unittest', '-v', 'test_kernel'], {
      cwd: join(root, 'test'),
      env: { ...installSpec('unet-typescript-jkt'), UNET_KERNEL_NAME: 'unet-typescript-jkt', PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
    })
    const report = `${run.stdout}${run.stderr}`
    expect(run.status, report).toBe(0)
    expect(report).toMatch(/Ran 12 tests/)
    // Every test of the suite ran: none skipped for want of a sample.
    expect(report).not.toMatch(/skipped/)
  }, 120_000)
})

describe.skipIf(!available)('the kernel under jupyter_client and nbclient', () => {
  it('is interrupted, restarted and shut down by jupyter_client\'s KernelManager', () => {
    const out = execFileSync(PYTHON, [join(root, 'test/lifecycle.py'), 'unet-typescript-test'], {
      env: installSpec('unet-typescript-test'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const report = JSON.parse(out) as Record<string, unknown>
    expect(report).toEqual({
      define: 'ok',
      interrupted: { status: 'error', ename: 'KeyboardInterrupt' },
      after_interrupt: [{ type: 'execute_result', data: { 'text/plain': "'kept true'" } }],
      // A restart is a fresh process: the state is gone.
      after_restart: [{ type: 'execute_result', data: { 'text/plain': "'undefined'" } }],
      alive_before_shutdown: true,
      alive_after_shutdown: false,
    })
  }, 120_000)

  it('runs examples/tgs-salt.ipynb end to end: synthetic data, a U-Net, training steps, a mask overlay and a threshold sweep', () => {
    const env = installSpec('unet-typescript-test')
    const spec = JSON.parse(readFileSync(join(env.JUPYTER_PATH!, 'kernels/unet-typescript-test/kernel.json'), 'utf8')) as { argv: string[] }
    expect(spec.argv).toEqual([process.execPath, KERNEL_CLI, 'run', '{connection_file}'])

    // A smaller run than the notebook's own parameters keeps the test quick.
    const params = 'const params = { trainCount: 16, size: 32, depth: 2, filters: 4, batchSize: 6, epochs: 1, seed: 3 }'
    const out = execFileSync(PYTHON, [join(root, 'test/run-notebook.py'), join(root, 'examples/tgs-salt.ipynb'), 'unet-typescript-test', '120', params], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    })
    const summary = JSON.parse(out) as Summary
    expect(summary.error).toBe(null)
    const cells = summary.cells
    // Every code cell ran, in order, without an error output.
    expect(cells.map((c) => c.execution_count)).toEqual(cells.map((_, i) => i + 1))
    for (const cell of cells) expect(cell.outputs.filter((o) => o.output_type === 'error')).toEqual([])

    const all = cells.flatMap((c) => c.outputs)
    const text = (o: { text?: string }) => o.text ?? ''
    // Backend chosen by @unet/runtime, printed as the first cell's result.
    expect(text(cells[0]!.outputs.find((o) => o.output_type === 'execute_result')!)).toMatch(/^'(wasm|cpu|tensorflow)'$/)
    // Data: counts printed, and a grid of overlays as a PNG.
    expect(all.some((o) => o.output_type === 'stream' && /train images: 16 test images: 4/.test(text(o)))).toBe(true)
    expect(all.some((o) => o.output_type === 'display_data' && o.mime?.includes('image/png') && /<grid 2×4/.test(text(o)))).toBe(true)
    // Training: the live loss curve is one SVG output, updated in place, and the steps were logged.
    const curves = all.filter((o) => o.output_type === 'display_data' && o.svg?.startsWith('<svg'))
    expect(curves.length).toBeGreaterThanOrEqual(2)
    const steps = all.map((o) => /(\d+) steps, loss (\d+\.\d+) -> (\d+\.\d+)/.exec(text(o))).find(Boolean)
    expect(Number(steps?.[1])).toBe(2)
    // The overlay of a validation image with its mask and the prediction.
    expect(all.some((o) => o.output_type === 'display_data' && o.mime?.includes('image/png') && /<overlay 101×101>/.test(text(o)) && (o.png_bytes ?? 0) > 1000)).toBe(true)
    // The sweep's best threshold and score, from @unet/metrics.
    const best = all.find((o) => o.output_type === 'execute_result' && /threshold/.test(text(o)))
    expect(text(best!)).toMatch(/threshold: 0\.\d+, score: [01](\.\d+)?/)
    // With the model and optimizer disposed, no tensor is left: no cell leaked any.
    const last = cells.at(-1)!.outputs.find((o) => o.output_type === 'execute_result')
    expect(text(last!)).toBe('0')
  }, 180_000)
})
