#!/usr/bin/env node
// Latency of the built kernel (dist/): start-up, a trivial execute round trip, display.mask, and how
// long an interrupt takes to end a spinning cell (cooperative loop check vs forced termination).
// Usage: pnpm --filter @unet/notebook build && node apps/notebook/scripts/bench-latency.mjs [rounds]
// Figures are wall-clock on whatever else the machine is doing: compare runs on the same machine.
import { spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as zmq from 'zeromq'
import { decodeMessage, encodeMessage, endpoint, makeHeader, Signer } from '../dist/index.js'

const rounds = Number(process.argv[2] ?? 30)
const dir = mkdtempSync(join(tmpdir(), 'unet-kernel-bench-'))
const info = { transport: 'ipc', ip: join(dir, 'k'), shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: randomBytes(16).toString('hex'), signature_scheme: 'hmac-sha256' }
writeFileSync(join(dir, 'c.json'), JSON.stringify(info))
const signer = new Signer(info.key)
const session = randomUUID()
const shell = new zmq.Dealer()
const control = new zmq.Dealer()
const iopub = new zmq.Subscriber()
iopub.subscribe()
shell.connect(endpoint(info, 1))
control.connect(endpoint(info, 4))
iopub.connect(endpoint(info, 2))

const waiters = new Map()
const idle = new Map()
;(async () => { for await (const f of shell) { const m = decodeMessage(f, signer); waiters.get(m.parent_header.msg_id)?.(m) } })()
;(async () => { for await (const f of control) { const m = decodeMessage(f, signer); waiters.get(m.parent_header.msg_id)?.(m) } })()
;(async () => {
  for await (const f of iopub) {
    const m = decodeMessage(f, signer)
    if (m.header.msg_type === 'status' && m.content.execution_state === 'idle') idle.get(m.parent_header.msg_id)?.()
  }
})()

async function send(socket, type, content) {
  const header = makeHeader(type, session, 'bench')
  const reply = new Promise((resolve) => waiters.set(header.msg_id, resolve))
  const done = new Promise((resolve) => idle.set(header.msg_id, resolve))
  await socket.send(encodeMessage({ identities: [], header, parent_header: {}, metadata: {}, content }, signer))
  return { reply, done }
}
const execute = (code) => send(shell, 'execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false })
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6

let t0 = process.hrtime.bigint()
const kernel = spawn(process.execPath, [fileURLToPath(new URL('../dist/cli.js', import.meta.url)), 'run', join(dir, 'c.json')], { stdio: 'inherit' })
for (;;) {
  const { reply, done } = await send(shell, 'kernel_info_request', {})
  await reply
  if (await Promise.race([done.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))])) break
}
const startup = ms(t0)

const trivial = []
for (let i = 0; i < rounds; i++) {
  t0 = process.hrtime.bigint()
  const { done } = await execute('1 + 1')
  await done
  trivial.push(ms(t0))
}
const masks = []
await (await execute('const m = new Uint8Array(101 * 101).fill(1, 0, 5000)')).done
for (let i = 0; i < Math.min(rounds, 10); i++) {
  t0 = process.hrtime.bigint()
  await (await execute('await display.mask(m, { height: 101, width: 101 })')).done
  masks.push(ms(t0))
}
async function interruptLatency(code) {
  const { reply } = await execute(code)
  await new Promise((r) => setTimeout(r, 300))
  t0 = process.hrtime.bigint()
  await send(control, 'interrupt_request', {})
  const m = await reply
  if (m.content.ename !== 'KeyboardInterrupt') throw new Error(`expected KeyboardInterrupt, got ${JSON.stringify(m.content)}`)
  return ms(t0)
}
const cooperative = []
const forced = []
for (let i = 0; i < 3; i++) {
  cooperative.push(await interruptLatency('let spin = 0\nwhile (true) { spin++ }'))
  forced.push(await interruptLatency('new Function("while (true) {}")()'))
}
console.log(`kernel start-up to first kernel_info_reply + iopub: ${startup.toFixed(0)} ms`)
console.log(`execute "1 + 1", request to idle: median ${median(trivial).toFixed(2)} ms over ${rounds}`)
console.log(`display.mask 101×101 (PNG via sharp), request to idle: median ${median(masks).toFixed(1)} ms over ${masks.length}`)
console.log(`interrupt of a spinning cell (loop check): median ${median(cooperative).toFixed(1)} ms over 3`)
console.log(`interrupt of a spinning cell without a loop check (forced termination): median ${median(forced).toFixed(0)} ms over 3`)
await send(control, 'shutdown_request', { restart: false })
await new Promise((resolve) => kernel.on('exit', resolve))
for (const s of [shell, control, iopub]) s.close()
