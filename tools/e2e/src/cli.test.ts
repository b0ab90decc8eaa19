import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

const cli = resolve(import.meta.dirname, '../../../apps/trainer/dist/cli.js')
const work = mkdtempSync(join(tmpdir(), 'unet-e2e-'))
const data = join(work, 'data')

// tiny model and data: seconds per run even on two busy cores
const TINY = ['--image-size', '32', '--depth', '2', '--filters', '4', '--batch-size', '8', '--seed', '7', '--lr-patience', '0']

// async, so the test worker stays responsive while the CLI runs
function unet(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: work, env: { ...process.env, UNET_DEBUG: '' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', fail)
    child.on('close', (code) => done({ code, stdout, stderr }))
  })
}

// tfjs prints a banner on stderr the first time its pure-JS cpu backend runs in Node; anything else is a problem
const problems = (stderr: string): string => stderr.replace(/\n?=+\nHi, looks like you are running TensorFlow\.js in Node\.js[^\n]*\n=+\n/g, '').trim()

function weightBytes(dir: string): Buffer {
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] }
  return Buffer.concat(manifest.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p)))))
}

function history(runDir: string): unknown[] {
  const h = JSON.parse(readFileSync(join(runDir, 'history.json'), 'utf8')) as Record<string, unknown>[]
  return h.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest)
}

describe('unet command, end to end', () => {
  beforeAll(async () => {
    const r = await unet('synth', '--out', data, '--count', '40', '--test-count', '6', '--seed', '3')
    expect(problems(r.stderr)).toBe('')
    expect(r.code).toBe(0)
  })

  it('synth → train → report', async () => {
    expect(readdirSync(join(data, 'train', 'images'))).toHaveLength(40)
    const run = join(work, 'run')
    const t = await unet('train', '--data', data, '--out', run, ...TINY, '--epochs', '2', '--quiet')
    expect(problems(t.stderr)).toBe('')
    expect(t.code).toBe(0)
    expect(t.stdout).toMatch(/best validation TGS score \d\.\d{4} at epoch \d, threshold 0\.\d\d \(empty-mask baseline \d\.\d{4}\)/)
    for (const f of ['config.json', 'history.csv', 'history.json', 'log.jsonl', 'best', 'last', 'report']) expect(readdirSync(run)).toContain(f)
    expect(readdirSync(join(run, 'report')).sort()).toEqual(['index.html', 'loss.png', 'metrics.png', 'threshold.png', 'validation-grid.png'])
    const html = readFileSync(join(run, 'report', 'index.html'), 'utf8')
    expect(html).toContain('<svg')
    expect(html).toContain('data:image/png;base64,')
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=/)

    // evaluate and predict read run.json (docs/run-format.md), which the new `unet train` writes; until then
    // src/predict.test.ts runs them on run folders built by hand
    expect(readdirSync(work).filter((f) => f.includes('.tmp'))).toEqual([])
  })

  it('resumed after Ctrl-C ends where an uninterrupted run ends', async () => {
    const args = ['--data', data, '--image-size', '16', '--depth', '1', '--filters', '2', '--batch-size', '8', '--seed', '5', '--epochs', '3', '--augment', 'flip,shift']
    const straight = join(work, 'straight')
    expect((await unet('train', ...args, '--out', straight, '--quiet')).code).toBe(0)

    const cut = join(work, 'cut')
    const child = spawn(process.execPath, [cli, 'train', ...args, '--out', cut, '--json'], { cwd: work })
    let buffer = ''
    let signalled = false
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      // Ctrl-C once the first end-of-epoch checkpoint is on disk
      if (!signalled && /"event":"checkpoint","which":"last"/.test(buffer)) {
        signalled = true
        child.kill('SIGINT')
      }
    })
    const code = await new Promise<number | null>((done) => child.on('close', done))
    expect(signalled).toBe(true)
    expect(code).toBe(130)
    const state = JSON.parse(readFileSync(join(cut, 'last', 'state.json'), 'utf8')) as { finished: boolean; globalStep: number }
    expect(state.finished).toBe(false)

    const resumed = await unet('train', '--out', cut, '--resume', '--quiet')
    expect(problems(resumed.stderr)).toBe('')
    expect(resumed.code).toBe(0)
    expect(history(cut)).toEqual(history(straight))
    expect(weightBytes(join(cut, 'last')).equals(weightBytes(join(straight, 'last')))).toBe(true)
    expect(weightBytes(join(cut, 'best')).equals(weightBytes(join(straight, 'best')))).toBe(true)
  })

  it('reports errors as one line and a non-zero exit code', async () => {
    const noTest = join(work, 'no-test')
    mkdirSync(noTest)
    for (const args of [
      ['train', '--epochs', '0'],
      ['train', '--loss', 'nope', '--out', join(work, 'bad')],
      ['predict', '--model', join(work, 'missing')],
      ['train', '--config', join(work, 'missing.json')],
      ['predict', '--model', join(work, 'run'), '--data', noTest, '--out', join(work, 'empty.csv')],
    ]) {
      const r = await unet(...args)
      expect(r.code, args.join(' ')).not.toBe(0)
      const lines = problems(r.stderr).split('\n')
      expect(lines.filter((l) => !l.startsWith('(run with --help')), args.join(' ')).toHaveLength(1)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    // a failed predict leaves no submission, not even an empty one
    expect(readdirSync(work).filter((f) => f.startsWith('empty.csv') || f.includes('.tmp'))).toEqual([])
  })
})
