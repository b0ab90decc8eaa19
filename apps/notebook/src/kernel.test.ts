// Protocol tests in the manner of jupyter_kernel_test: a real ZeroMQ client drives the kernel as a
// child process and checks message schemas, parent ids, busy/idle ordering and the error path.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { TestClient, sleep, type Exchange } from '../test/client'
import type { JupyterMessage } from './wire'

const REQUIRED_CONTENT: Record<string, string[]> = {
  status: ['execution_state'],
  execute_input: ['code', 'execution_count'],
  execute_result: ['execution_count', 'data', 'metadata'],
  stream: ['name', 'text'],
  display_data: ['data', 'metadata', 'transient'],
  update_display_data: ['data', 'metadata', 'transient'],
  error: ['ename', 'evalue', 'traceback'],
  execute_reply: ['status', 'execution_count'],
  kernel_info_reply: ['status', 'protocol_version', 'implementation', 'implementation_version', 'language_info', 'banner'],
  complete_reply: ['status', 'matches', 'cursor_start', 'cursor_end', 'metadata'],
  inspect_reply: ['status', 'found', 'data', 'metadata'],
  is_complete_reply: ['status'],
  interrupt_reply: ['status'],
  shutdown_reply: ['status', 'restart'],
}

/** Checks one message against the protocol's shapes, and that it answers `parentId`. */
function validate(message: JupyterMessage, parentId: string): void {
  const { header } = message
  expect(header).toMatchObject({ msg_id: expect.any(String), session: expect.any(String), username: expect.any(String), date: expect.any(String), msg_type: expect.any(String) })
  expect(header.version).toBe('5.3')
  expect(Number.isNaN(Date.parse(header.date))).toBe(false)
  expect(message.parent_header.msg_id).toBe(parentId)
  for (const field of REQUIRED_CONTENT[header.msg_type] ?? []) expect(message.content, `${header.msg_type}.${field}`).toHaveProperty(field)
}

/** busy first, idle last, each exactly once, and every message schema-valid with the right parent. */
function checkExchange(exchange: Exchange, msgId: string): string[] {
  validate(exchange.reply, msgId)
  for (const m of exchange.iopub) validate(m, msgId)
  const types = exchange.iopub.map((m) => (m.header.msg_type === 'status' ? `status:${String(m.content.execution_state)}` : m.header.msg_type))
  expect(types[0]).toBe('status:busy')
  expect(types.at(-1)).toBe('status:idle')
  expect(types.filter((t) => t.startsWith('status:')).length).toBe(2)
  return types
}

const execute = async (client: TestClient, code: string, extra: Record<string, unknown> = {}) => {
  const exchange = await client.execute(code, extra)
  const types = checkExchange(exchange, exchange.reply.parent_header.msg_id!)
  const find = (type: string) => exchange.iopub.filter((m) => m.header.msg_type === type)
  return { ...exchange, types, find, text: (type: string) => find(type).map((m) => String(m.content.text ?? '')).join('') }
}

describe('unet-kernel over ZeroMQ', () => {
  let client: TestClient
  let cwd: string
  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'unet-kernel-cwd-'))
    // An ESM-only package that only the notebook's folder has, and a local module.
    const pkg = join(cwd, 'node_modules', 'esm-only')
    mkdirSync(pkg, { recursive: true })
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'esm-only', type: 'module', exports: { '.': { import: './index.js' } } }))
    writeFileSync(join(pkg, 'index.js'), 'export const answer = 42\nexport default function hello(name) { return `hello ${name}` }\n')
    writeFileSync(join(cwd, 'local.mjs'), 'export const local = "from the notebook folder"\n')
    client = await TestClient.start({ cwd })
  })
  afterAll(async () => {
    await client?.close()
  })

  it('answers kernel_info_request on shell and control with protocol 5.3 and TypeScript', async () => {
    for (const channel of ['shell', 'control'] as const) {
      const exchange = await client.request(channel, 'kernel_info_request', {})
      checkExchange(exchange, exchange.reply.parent_header.msg_id!)
      expect(exchange.reply.header.msg_type).toBe('kernel_info_reply')
      const content = exchange.reply.content as { protocol_version: string; language_info: { name: string; version: string; file_extension: string } }
      expect(content.protocol_version.split('.').map(Number)).toEqual([5, 3])
      expect(content.language_info).toMatchObject({ name: 'typescript', file_extension: '.ts' })
      expect(Number(content.language_info.version.split('.')[0])).toBeGreaterThanOrEqual(5)
    }
  })

  it('keeps const, let, functions, classes and imports across cells, and lets a later cell redefine them', async () => {
    const first = await execute(client, 'const a: number = 40\nlet b = 1\nfunction twice(n: number): number { return 2 * n }\nclass Box { constructor(readonly v: number) {} }\nimport { basename } from "node:path"\nconsole.log("out", a)\nconsole.error("err")\na + 2')
    expect(first.reply.content).toMatchObject({ status: 'ok', execution_count: expect.any(Number) })
    const count = first.reply.content.execution_count as number
    expect(first.types).toEqual(['status:busy', 'execute_input', 'stream', 'stream', 'execute_result', 'status:idle'])
    expect(first.find('execute_input')[0]!.content).toMatchObject({ execution_count: count })
    expect(first.find('stream').map((m) => [m.content.name, m.content.text])).toEqual([['stdout', 'out 40\n'], ['stderr', 'err\n']])
    expect(first.find('execute_result')[0]!.content).toMatchObject({ execution_count: count, data: { 'text/plain': '42' } })

    const second = await execute(client, 'new Box(twice(a) + b).v + basename("/x/y.png")')
    expect(second.reply.content.execution_count).toBe(count + 1)
    expect(second.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': "'81y.png'" })

    const third = await execute(client, 'const a = "redefined"\nfunction twice(s: string) { return s + s }\ntwice(a)')
    expect(third.reply.content.status).toBe('ok')
    expect(third.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': "'redefinedredefined'" })
  })

  it('supports top-level await, ESM packages from the notebook folder, relative imports and the @unet packages', async () => {
    const cell = await execute(
      client,
      [
        'import hello, { answer } from "esm-only"',
        'import { local } from "./local.mjs"',
        'import { tgsImageScore } from "@unet/metrics"',
        'const late = await new Promise<number>((resolve) => setTimeout(() => resolve(7), 10))',
        'const mask = new Uint8Array([1, 1, 0, 0])',
        ';[hello("ts"), answer, local, late, tgsImageScore(mask, mask)]',
      ].join('\n'),
    )
    expect(cell.reply.content).toMatchObject({ status: 'ok' })
    expect(cell.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': "[ 'hello ts', 42, 'from the notebook folder', 7, 1 ]" })
  })

  it('reports errors with an error message, a traceback pointing at the TypeScript line, and an error reply', async () => {
    const failed = await execute(client, 'interface Ignored { x: number }\ntype T = string\nconst before = 1\nfunction fail(): never { throw new TypeError("boom") }\nfail()')
    expect(failed.reply.content).toMatchObject({ status: 'error', ename: 'TypeError', evalue: 'boom', execution_count: expect.any(Number) })
    expect(failed.reply.metadata).toMatchObject({ status: 'error' })
    expect(failed.types).toEqual(['status:busy', 'execute_input', 'error', 'status:idle'])
    const error = failed.find('error')[0]!.content as { ename: string; traceback: string[] }
    expect(error.ename).toBe('TypeError')
    const traceback = error.traceback.join('\n')
    // The throw sits on line 4 of the cell as typed, although the interface and type alias are erased.
    expect(traceback).toMatch(/cell\[\d+\] line 4.*throw new TypeError/)
    expect(traceback).toMatch(/at fail \(cell\[\d+\]:4:/)

    const syntax = await execute(client, 'const x = (1 +')
    expect(syntax.reply.content).toMatchObject({ status: 'error', ename: 'SyntaxError' })

    // The kernel carries on, with the state from before the error.
    const after = await execute(client, 'before + 1')
    expect(after.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': '2' })
  })

  it('evaluates user_expressions after the cell, each with its own status', async () => {
    const cell = await execute(client, 'const u = 3', { user_expressions: { double: 'u * 2', broken: 'notDefinedAnywhere.x' } })
    const results = cell.reply.content.user_expressions as Record<string, Record<string, unknown>>
    expect(results.double).toEqual({ status: 'ok', data: { 'text/plain': '6' }, metadata: {} })
    expect(results.broken).toMatchObject({ status: 'error', ename: 'ReferenceError' })
  })

  it('asks for input on the stdin channel when the front end allows it', async () => {
    client.onInput = (prompt) => `typed after ${prompt.trim()}`
    const asked = await execute(client, 'const answer = await input("name?");\n`hello, ${answer}`', { allow_stdin: true })
    expect(asked.reply.content, JSON.stringify(asked.reply.content)).toMatchObject({ status: 'ok' })
    expect(asked.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': "'hello, typed after name?'" })
    expect(client.prompts).toEqual(['name?'])
    const refused = await execute(client, 'await input("again?")', { allow_stdin: false })
    expect(refused.reply.content).toMatchObject({ status: 'error', evalue: expect.stringMatching(/allow_stdin is false/) })
  })

  it('does not count or echo silent executions', async () => {
    const before = await execute(client, '1')
    const silent = await execute(client, 'const quiet = 5\nquiet', { silent: true, store_history: false })
    expect(silent.types).toEqual(['status:busy', 'status:idle'])
    const after = await execute(client, 'quiet')
    expect(after.reply.content.execution_count).toBe((before.reply.content.execution_count as number) + 1)
  })

  it('drops messages with a bad or missing signature without running them, and logs them', async () => {
    const runs = (code: string) => ({ code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false })
    const bad = await client.send('shell', 'execute_request', runs('globalThis.hacked = true'), (frames) => {
      const at = frames.indexOf('<IDS|MSG>')
      const copy = [...frames]
      copy[at + 1] = 'f'.repeat(64)
      return copy
    })
    const missing = await client.send('shell', 'execute_request', runs('globalThis.hacked = true'), (frames) => {
      const at = frames.indexOf('<IDS|MSG>')
      const copy = [...frames]
      copy[at + 1] = ''
      return copy
    })
    const check = await execute(client, 'typeof (globalThis as any).hacked')
    expect(check.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': "'undefined'" })
    expect(client.iopubFor(bad.header.msg_id)).toEqual([])
    expect(client.iopubFor(missing.header.msg_id)).toEqual([])
    // The kernel's log lines travel on its stderr pipe, which may trail the ZeroMQ replies a little.
    await vi.waitFor(() => {
      expect(client.stderr.join('')).toMatch(/dropped a message on shell: message signature does not match/)
      expect(client.stderr.join('')).toMatch(/dropped a message on shell: message has no signature/)
    })
  })

  it('interrupts a spinning cell (interrupt_request and SIGINT) and keeps the state', async () => {
    await execute(client, 'let spins = 0\nconst kept = "still here"')
    for (const how of ['message', 'signal', 'blocking'] as const) {
      const code = how === 'blocking' ? 'spins = -1\nconst spin = new Function("while (true) {}")\nspin()' : 'while (true) { spins++ }'
      const { header } = await client.send('shell', 'execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false })
      await client.waitForIopub(header.msg_id, (m) => m.header.msg_type === 'execute_input')
      await sleep(300)
      // The heartbeat and the control channel answer while the cell spins.
      expect(await client.heartbeat()).toBe(true)
      if (how === 'signal') client.process.kill('SIGINT')
      else {
        const interrupt = await client.request('control', 'interrupt_request', {})
        checkExchange(interrupt, interrupt.reply.parent_header.msg_id!)
        expect(interrupt.reply.content).toEqual({ status: 'ok' })
      }
      const reply = await client.replyTo(header.msg_id)
      expect(reply.content, how).toMatchObject({ status: 'error', ename: 'KeyboardInterrupt' })
      const state = await execute(client, '[kept, spins !== 0]')
      expect(state.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': "[ 'still here', true ]" })
      // Nothing left over from the interrupted cell (no stray unhandled-rejection output).
      expect(state.types, how).toEqual(['status:busy', 'execute_input', 'execute_result', 'status:idle'])
    }
    expect(client.process.exitCode).toBe(null)
  })

  it('leaves tfjs usable after terminating a cell inside tf.tidy, releasing the tensors it held', async () => {
    const setup = await execute(client, 'import * as tf from "@tensorflow/tfjs-core"\nimport "@tensorflow/tfjs-backend-cpu"\nawait tf.setBackend("cpu")\nconst keep = tf.ones([3])\ntf.memory().numTensors')
    expect(setup.reply.content, JSON.stringify(setup.reply.content)).toMatchObject({ status: 'ok' })
    const before = setup.find('execute_result')[0]!.content.data
    const { header } = await client.send('shell', 'execute_request', {
      code: 'tf.tidy(() => { tf.add(tf.zeros([4]), 1); new Function("while (true) {}")() })',
      silent: false, store_history: true, user_expressions: {}, allow_stdin: false,
    })
    await client.waitForIopub(header.msg_id, (m) => m.header.msg_type === 'execute_input')
    await sleep(300)
    await client.request('control', 'interrupt_request', {})
    const interrupted = await client.replyTo(header.msg_id)
    expect(interrupted.content, JSON.stringify(interrupted.content)).toMatchObject({ ename: 'KeyboardInterrupt' })
    const after = await execute(client, 'const total = tf.tidy(() => tf.sum(keep).dataSync()[0])\n;[total, tf.memory().numTensors]')
    expect(after.reply.content, JSON.stringify(after.reply.content)).toMatchObject({ status: 'ok' })
    // The scope the terminated tidy left open was closed: its two tensors are gone, `keep` is not.
    expect(after.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': `[ 3, ${String((before as Record<string, string>)['text/plain'])} ]` })
  })

  it('interrupts a cell waiting on a promise', async () => {
    const { header } = await client.send('shell', 'execute_request', { code: 'const never = await new Promise(() => {})', silent: false, store_history: true, user_expressions: {}, allow_stdin: false })
    await client.waitForIopub(header.msg_id, (m) => m.header.msg_type === 'execute_input')
    await client.request('control', 'interrupt_request', {})
    const reply = await client.replyTo(header.msg_id)
    expect(reply.content).toMatchObject({ status: 'error', ename: 'KeyboardInterrupt' })
  })

  it('completes names in scope, members, and @unet exports; inspects names; tells complete from incomplete code', async () => {
    await execute(client, 'const trainingLosses = [0.9, 0.5]\nconst config = { learningRate: 0.001, batchSize: 8 }')
    const complete = async (code: string, cursor = code.length) => {
      const exchange = await client.request('shell', 'complete_request', { code, cursor_pos: cursor })
      checkExchange(exchange, exchange.reply.parent_header.msg_id!)
      return exchange.reply.content as { matches: string[]; cursor_start: number; cursor_end: number }
    }
    expect(await complete('trainingL')).toMatchObject({ matches: ['trainingLosses'], cursor_start: 0, cursor_end: 9 })
    expect((await complete('config.lea')).matches).toEqual(['learningRate'])
    const kinds = (await client.request('shell', 'complete_request', { code: 'Math.ma', cursor_pos: 7 })).reply.content.metadata as { _jupyter_types_experimental: { text: string; type: string }[] }
    expect(kinds._jupyter_types_experimental).toEqual([{ start: 5, end: 7, text: 'max', type: 'function' }])
    expect((await complete('trainingLosses.pu')).matches).toContain('push')
    const unet = await complete('import { tgsS } from "@unet/metrics"', 'import { tgsS'.length)
    expect(unet.matches).toContain('tgsScore')
    expect(unet.cursor_start).toBe('import { '.length)
    expect((await complete('import { x } from "@unet/me')).matches).toContain('@unet/metrics')

    const inspect = await client.request('shell', 'inspect_request', { code: 'config', cursor_pos: 3, detail_level: 0 })
    checkExchange(inspect, inspect.reply.parent_header.msg_id!)
    expect(inspect.reply.content).toMatchObject({ status: 'ok', found: true })
    expect(String((inspect.reply.content.data as Record<string, string>)['text/plain'])).toMatch(/learningRate/)
    await execute(client, 'import { tgsScore } from "@unet/metrics"')
    const doc = await client.request('shell', 'inspect_request', { code: 'tgsScore(', cursor_pos: 3, detail_level: 0 })
    expect(String((doc.reply.content.data as Record<string, string>)['text/plain'])).toMatch(/from @unet\/metrics/)
    const missing = await client.request('shell', 'inspect_request', { code: 'noSuchName', cursor_pos: 2, detail_level: 0 })
    expect(missing.reply.content).toMatchObject({ status: 'ok', found: false })

    const isComplete = async (code: string) => (await client.request('shell', 'is_complete_request', { code })).reply.content
    expect(await isComplete('const x = 1')).toEqual({ status: 'complete' })
    expect(await isComplete('function f() {')).toMatchObject({ status: 'incomplete', indent: '  ' })
    expect(await isComplete('const = = 1')).toEqual({ status: 'invalid' })
  })

  it('shows masks as PNG through display_data and updates a plot in place by display_id', async () => {
    const shown = await execute(client, 'const m = new Uint8Array(4 * 4)\nm[5] = 1\nawait display.mask(m, { height: 4, width: 4, scale: 1 })\nconst h = await display.plot({ loss: [1, 0.5] }, { id: "loss", title: "loss" })\nawait display.plot({ loss: [1, 0.5, 0.25] }, { id: "loss", update: true })')
    expect(shown.reply.content.status).toBe('ok')
    expect(shown.types).toEqual(['status:busy', 'execute_input', 'display_data', 'display_data', 'update_display_data', 'status:idle'])
    const [mask, plot] = shown.find('display_data')
    const png = Buffer.from(String((mask!.content.data as Record<string, string>)['image/png']), 'base64')
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true })
    expect([info.width, info.height]).toEqual([4, 4])
    // Pixel (1, 1) is salt (white), the others are black.
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels]
    expect([at(1, 1), at(0, 0), at(2, 1)]).toEqual([255, 0, 0])
    expect((plot!.content.data as Record<string, string>)['image/svg+xml']).toMatch(/^<svg/)
    expect(plot!.content.transient).toEqual({ display_id: 'loss' })
    const update = shown.find('update_display_data')[0]!
    expect(update.content.transient).toEqual({ display_id: 'loss' })
    expect((update.content.data as Record<string, string>)['image/svg+xml']).not.toBe((plot!.content.data as Record<string, string>)['image/svg+xml'])
  })

  it('aborts execute requests queued behind a failing one', async () => {
    // The failing cell takes a moment, so the second request is surely queued behind it.
    const fail = await client.send('shell', 'execute_request', { code: 'await new Promise((r) => setTimeout(r, 300))\nthrow new Error("first")', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true })
    const queued = await client.send('shell', 'execute_request', { code: 'globalThis.ranAfterError = true', silent: false, store_history: true, user_expressions: {}, allow_stdin: false })
    expect((await client.replyTo(fail.header.msg_id)).content.status).toBe('error')
    expect((await client.replyTo(queued.header.msg_id)).content.status).toBe('aborted')
    const check = await execute(client, 'typeof (globalThis as any).ranAfterError')
    expect(check.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': "'undefined'" })
  })

  it('survives a cell that exits its thread: the evaluator restarts with fresh state', async () => {
    await execute(client, 'const beforeExit = 1')
    const exited = await execute(client, 'process.exit(3)')
    expect(exited.reply.content).toMatchObject({ status: 'error', ename: 'KernelRestarted' })
    const fresh = await execute(client, 'typeof beforeExit')
    expect(fresh.find('execute_result')[0]!.content.data).toEqual({ 'text/plain': "'undefined'" })
    expect(client.process.exitCode).toBe(null)
  })

  it('shuts down on shutdown_request', async () => {
    const exchange = await client.request('control', 'shutdown_request', { restart: false })
    expect(exchange.reply.content).toEqual({ status: 'ok', restart: false })
    expect(await client.exited).toBe(0)
  })
})

describe('unet-kernel over tcp', () => {
  it('binds every socket to the connection file ip only', async () => {
    const client = await TestClient.start({ transport: 'tcp' })
    try {
      const ports = [client.info.shell_port, client.info.iopub_port, client.info.stdin_port, client.info.control_port, client.info.hb_port]
      if (existsSync('/proc/net/tcp')) {
        const listening = readFileSync('/proc/net/tcp', 'utf8')
          .split('\n')
          .slice(1)
          .map((line) => line.trim().split(/\s+/))
          .filter((f) => f[3] === '0A')
          .map((f) => f[1]!.split(':'))
          .filter(([, port]) => ports.includes(parseInt(port!, 16)))
        expect(listening.length).toBe(5)
        // 0100007F is 127.0.0.1 in /proc's little-endian hex.
        for (const [address] of listening) expect(address).toBe('0100007F')
      }
      expect(await client.heartbeat()).toBe(true)
    } finally {
      await client.close()
    }
  })
})
