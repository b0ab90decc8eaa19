import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { safeRelativePath, serve, WebError, type RunningServer } from './index'

const SECRET = 'top secret, outside the run'
/** A complete run.json (docs/run-format.md) but for the model paths. */
const RUN_FIELDS = {
  format: 'unet-run', version: 2, input: { width: 8, height: 8, channels: 1 }, prepare: { mode: 'resize', interpolation: 'bilinear' }, scale: 'unit', output: { classes: 1, activation: 'sigmoid' }, threshold: 0.5, rle: { order: 'column', idColumn: 'id', idSuffix: '' }, layout: 'tgs', monitor: { name: 'val_dice', mode: 'max', best: 0.9, epoch: 3 }, encoder: 'plain',
}

/** A GET with the path sent exactly as written (fetch and URL would normalise `..` away). */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => ok({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', fail)
    req.end()
  })
}

function makeRun(root: string): { run: string; page: string } {
  const run = join(root, 'run')
  const page = join(root, 'page')
  mkdirSync(join(run, 'best'), { recursive: true })
  mkdirSync(join(run, 'inference'), { recursive: true })
  mkdirSync(join(page, 'assets'), { recursive: true })
  writeFileSync(join(root, 'secret.txt'), SECRET)
  writeFileSync(
    join(run, 'run.json'),
    JSON.stringify({
      ...RUN_FIELDS, model: 'best/model.json', inferenceModel: 'inference/model.json',
    }),
  )
  const manifest = (paths: string[]) => JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths, weights: [] }] })
  writeFileSync(join(run, 'best', 'model.json'), manifest(['./group1-shard1of1-aaaa.bin', 'evil.bin', '../../secret.txt', '../../../secret.txt', '/etc/passwd']))
  writeFileSync(join(run, 'best', 'group1-shard1of1-aaaa.bin'), 'weights')
  writeFileSync(join(run, 'inference', 'model.json'), manifest(['group1-shard1of1-bbbb.bin']))
  writeFileSync(join(run, 'inference', 'group1-shard1of1-bbbb.bin'), 'folded weights')
  // listed in the manifest, but a symlink that leaves the run
  symlinkSync(join(root, 'secret.txt'), join(run, 'best', 'evil.bin'))
  writeFileSync(join(run, 'config.json'), '{"data": "private path"}')
  writeFileSync(join(run, 'history.json'), '[]')
  writeFileSync(join(page, 'index.html'), '<!doctype html><title>page</title>')
  writeFileSync(join(page, 'assets', 'app.js'), 'console.log(1)')
  symlinkSync(join(root, 'secret.txt'), join(page, 'assets', 'link.js'))
  symlinkSync(run, join(page, 'runlink'))
  return { run, page }
}

describe('serve', () => {
  let root: string
  let server: RunningServer
  const lines: string[] = []

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'unet-serve-'))
    const { run, page } = makeRun(root)
    server = await serve({ run, port: 0, pageDir: page, log: (l) => lines.push(l) })
  })
  afterAll(async () => {
    await server?.close()
    rmSync(root, { recursive: true, force: true })
  })

  it('binds 127.0.0.1 by default and prints the URL', () => {
    expect((server.server.address() as { address: string }).address).toBe('127.0.0.1')
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`)
    expect(lines.join('\n')).toContain(server.url)
  })

  it('serves the page, run.json, the models run.json names and their weight files', async () => {
    expect((await get(server.port, '/')).body).toContain('<title>page</title>')
    expect((await get(server.port, '/assets/app.js')).body).toBe('console.log(1)')
    const runJson = await get(server.port, '/run/run.json')
    expect(runJson.status).toBe(200)
    expect(JSON.parse(runJson.body).format).toBe('unet-run')
    expect((await get(server.port, '/run/best/model.json')).status).toBe(200)
    expect((await get(server.port, '/run/best/group1-shard1of1-aaaa.bin')).body).toBe('weights')
    expect((await get(server.port, '/run/inference/group1-shard1of1-bbbb.bin')).body).toBe('folded weights')
    expect((await get(server.port, '/run/run.json?v=2')).status).toBe(200)
    // cross-origin isolated, so the wasm backend may use threads
    expect(runJson.headers['cross-origin-embedder-policy']).toBe('require-corp')
  })

  it('serves nothing else of the run', async () => {
    for (const path of ['/run/config.json', '/run/history.json', '/run/', '/run', '/run/best/', '/run/best']) {
      expect((await get(server.port, path)).status, path).toBe(404)
    }
  })

  it.each([
    '/../secret.txt',
    '/run/../secret.txt',
    '/run/../../secret.txt',
    '/run/best/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/run/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/run/best/..%2f..%2f..%2fsecret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/%252e%252e%252fsecret.txt',
    '/..%5csecret.txt',
    '/run/best%5c..%5c..%5c..%5csecret.txt',
    '//etc/passwd',
    '/run//etc/passwd',
    '/run/%2fetc%2fpasswd',
    `/run/${encodeURIComponent('/etc/passwd')}`,
    '/%2fetc%2fpasswd',
    'http://127.0.0.1/etc/passwd',
    '/etc/passwd',
    '/run/%00run.json',
    '/run/%zz',
    // listed in best/model.json, but outside the run (a relative path and a symlink)
    '/run/secret.txt',
    '/run/best/evil.bin',
    // symlinks out of the page folder
    '/assets/link.js',
    '/runlink/run.json',
    '/runlink/config.json',
  ])('refuses %s with 404', async (path) => {
    const res = await get(server.port, path)
    expect(res.status).toBe(404)
    expect(res.body).not.toContain(SECRET)
    expect(res.body).not.toContain('root:')
  })

  it('answers only GET and HEAD', async () => {
    expect((await get(server.port, '/run/run.json', 'POST')).status).toBe(405)
    const head = await get(server.port, '/run/run.json', 'HEAD')
    expect(head.status).toBe(200)
    expect(head.body).toBe('')
  })
})

describe('safeRelativePath', () => {
  it('decodes once and refuses every way out', () => {
    expect(safeRelativePath('best/model.json')).toBe('best/model.json')
    expect(safeRelativePath('a%20b.png')).toBe('a b.png')
    for (const bad of ['..', 'a/../b', '%2e%2e/x', 'a%2f..%2fb', '/abs', 'a//b', '', 'a\\b', '%252e', '%e0%a4%a', 'x%00']) {
      expect(safeRelativePath(bad), bad).toBeNull()
    }
  })
})

describe('serve errors', () => {
  it('says what is missing and what to do', async () => {
    const root = mkdtempSync(join(tmpdir(), 'unet-serve-bad-'))
    try {
      await expect(serve({ run: join(root, 'nothing'), log: null })).rejects.toMatchObject({ name: 'WebError', code: 'NO_RUN', message: expect.stringMatching(/run\.json.*--model/) })
      const { run, page } = makeRun(root)
      writeFileSync(join(run, 'run.json'), JSON.stringify({ ...RUN_FIELDS, version: 3, model: 'best/model.json' }))
      await expect(serve({ run, pageDir: page, log: null })).rejects.toThrow(/version 3, newer than/)
      writeFileSync(join(run, 'run.json'), JSON.stringify({ ...RUN_FIELDS, model: 'missing/model.json' }))
      await expect(serve({ run, pageDir: page, log: null })).rejects.toThrow(/missing\/model\.json .* is missing/)
      writeFileSync(join(run, 'run.json'), JSON.stringify({ ...RUN_FIELDS, model: '../secret.json' }))
      await expect(serve({ run, pageDir: page, log: null })).rejects.toBeInstanceOf(WebError)
      const first = await serve({ run: makeRun(join(root, 'again')).run, pageDir: page, port: 0, log: null })
      try {
        await expect(serve({ run: join(root, 'again', 'run'), pageDir: page, port: first.port, log: null })).rejects.toMatchObject({ code: 'LISTEN', message: expect.stringContaining('--port') })
      } finally {
        await first.close()
      }
      await expect(serve({ run: join(root, 'again', 'run'), pageDir: join(root, 'nopage'), port: 0, log: null })).rejects.toMatchObject({ code: 'NO_PAGE' })
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
