// A minimal Jupyter client for protocol tests, in the manner of jupyter_kernel_test: it starts the
// kernel as a child process from a connection file and talks to it over ZeroMQ.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as zmq from 'zeromq'
import { decodeMessage, encodeMessage, endpoint, makeHeader, Signer, type ConnectionInfo, type JupyterMessage } from '../src/wire'

export const KERNEL_CLI = fileURLToPath(new URL('../.test-dist/cli.js', import.meta.url))

export interface Exchange {
  reply: JupyterMessage
  /** iopub messages whose parent is the request, up to and including `status: idle`. */
  iopub: JupyterMessage[]
}

export class TestClient {
  readonly info: ConnectionInfo
  readonly signer: Signer
  readonly session = randomUUID()
  readonly shell = new zmq.Dealer()
  readonly control = new zmq.Dealer()
  readonly stdin = new zmq.Dealer()
  readonly iopub = new zmq.Subscriber()
  readonly hb = new zmq.Request()
  readonly stderr: string[] = []
  readonly process: ChildProcess
  readonly #replies = new Map<string, (m: JupyterMessage) => void>()
  readonly #iopubByParent = new Map<string, JupyterMessage[]>()
  readonly #iopubWaiters = new Set<() => void>()
  readonly exited: Promise<number | null>

  private constructor(info: ConnectionInfo, file: string, cwd: string) {
    this.info = info
    this.signer = new Signer(info.key, info.signature_scheme)
    this.process = spawn(process.execPath, [KERNEL_CLI, 'run', file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    this.process.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()))
    this.process.stdout!.on('data', () => {})
    this.exited = new Promise((resolve) => this.process.on('exit', (code) => resolve(code)))
  }

  /** Starts a kernel on fresh ipc endpoints (or tcp on 127.0.0.1) and waits until it answers. */
  static async start(options: { transport?: 'ipc' | 'tcp'; cwd?: string; key?: string } = {}): Promise<TestClient> {
    const dir = mkdtempSync(join(tmpdir(), 'unet-kernel-test-'))
    const transport = options.transport ?? 'ipc'
    const ports = transport === 'tcp' ? await freePorts(5) : [1, 2, 3, 4, 5]
    const info: ConnectionInfo = {
      transport,
      ip: transport === 'tcp' ? '127.0.0.1' : join(dir, 'k'),
      shell_port: ports[0]!,
      iopub_port: ports[1]!,
      stdin_port: ports[2]!,
      control_port: ports[3]!,
      hb_port: ports[4]!,
      key: options.key ?? randomBytes(16).toString('hex'),
      signature_scheme: 'hmac-sha256',
      kernel_name: 'unet-typescript',
    }
    const file = join(dir, 'connection.json')
    writeFileSync(file, JSON.stringify(info))
    const client = new TestClient(info, file, options.cwd ?? dir)
    client.iopub.subscribe()
    // Jupyter clients give shell and stdin one routing id, so input_request finds its way back.
    client.shell.routingId = client.session
    client.stdin.routingId = client.session
    for (const [socket, port] of [
      [client.shell, info.shell_port],
      [client.control, info.control_port],
      [client.stdin, info.stdin_port],
      [client.iopub, info.iopub_port],
      [client.hb, info.hb_port],
    ] as const) {
      socket.linger = 0
      socket.connect(endpoint(info, port))
    }
    void client.#pump(client.shell)
    void client.#pump(client.control)
    void client.#pumpIopub()
    void client.#pumpStdin()
    await client.waitForReady()
    return client
  }

  /** Sends kernel_info_request until both its reply and its iopub idle arrive (iopub joins late). */
  async waitForReady(): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { header } = await this.send('shell', 'kernel_info_request', {})
      const reply = await Promise.race([this.#reply(header.msg_id), sleep(20_000).then(() => undefined)])
      if (!reply) throw new Error(`kernel did not answer kernel_info_request; stderr:\n${this.stderr.join('')}`)
      const idle = await Promise.race([this.#idle(header.msg_id), sleep(200).then(() => undefined)])
      if (idle) return
    }
    throw new Error('iopub never delivered a status message')
  }

  async send(channel: 'shell' | 'control', msgType: string, content: Record<string, unknown>, tamper?: (frames: (Buffer | string)[]) => (Buffer | string)[]): Promise<{ header: JupyterMessage['header'] }> {
    const header = makeHeader(msgType, this.session, 'test')
    let frames = encodeMessage({ identities: [], header, parent_header: {}, metadata: {}, content }, this.signer)
    if (tamper) frames = tamper(frames)
    await (channel === 'shell' ? this.shell : this.control).send(frames)
    return { header }
  }

  /** Sends a request and collects its reply and iopub messages up to idle. */
  async request(channel: 'shell' | 'control', msgType: string, content: Record<string, unknown>): Promise<Exchange> {
    const { header } = await this.send(channel, msgType, content)
    const reply = await this.#reply(header.msg_id)
    const iopub = await this.#idle(header.msg_id)
    return { reply, iopub }
  }

  execute(code: string, extra: Record<string, unknown> = {}): Promise<Exchange> {
    return this.request('shell', 'execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true, ...extra })
  }

  /** iopub messages seen so far for a request. */
  iopubFor(msgId: string): JupyterMessage[] {
    return this.#iopubByParent.get(msgId) ?? []
  }

  async waitForIopub(msgId: string, predicate: (m: JupyterMessage) => boolean, timeoutMs = 20_000): Promise<JupyterMessage> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.iopubFor(msgId).find(predicate)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`no matching iopub message for ${msgId}; got ${this.iopubFor(msgId).map((m) => m.header.msg_type).join(', ')}`)
      await new Promise<void>((resolve) => {
        this.#iopubWaiters.add(resolve)
        setTimeout(resolve, 100)
      })
    }
  }

  replyTo(msgId: string): Promise<JupyterMessage> {
    return this.#reply(msgId)
  }

  async #idle(msgId: string): Promise<JupyterMessage[]> {
    await this.waitForIopub(msgId, (m) => m.header.msg_type === 'status' && m.content.execution_state === 'idle')
    return this.iopubFor(msgId)
  }

  readonly #early = new Map<string, JupyterMessage>()
  #reply(msgId: string): Promise<JupyterMessage> {
    const early = this.#early.get(msgId)
    if (early) return Promise.resolve(early)
    return new Promise((resolve) => this.#replies.set(msgId, resolve))
  }

  async #pump(socket: zmq.Dealer): Promise<void> {
    try {
      for await (const frames of socket) {
        const message = decodeMessage(frames, this.signer)
        const id = message.parent_header.msg_id ?? ''
        const waiter = this.#replies.get(id)
        if (waiter) {
          this.#replies.delete(id)
          waiter(message)
        } else this.#early.set(id, message)
      }
    } catch {
      // closed
    }
  }

  /** Answers input_request; the prompts seen are kept in `prompts`. */
  onInput: (prompt: string) => string = () => ''
  readonly prompts: string[] = []
  async #pumpStdin(): Promise<void> {
    try {
      for await (const frames of this.stdin) {
        const message = decodeMessage(frames, this.signer)
        if (message.header.msg_type !== 'input_request') continue
        this.prompts.push(String(message.content.prompt))
        const header = makeHeader('input_reply', this.session, 'test')
        await this.stdin.send(encodeMessage({ identities: [], header, parent_header: message.header, metadata: {}, content: { value: this.onInput(String(message.content.prompt)) } }, this.signer))
      }
    } catch {
      // closed
    }
  }

  async #pumpIopub(): Promise<void> {
    try {
      for await (const frames of this.iopub) {
        const message = decodeMessage(frames, this.signer)
        const id = message.parent_header.msg_id ?? ''
        const list = this.#iopubByParent.get(id) ?? []
        list.push(message)
        this.#iopubByParent.set(id, list)
        for (const wake of this.#iopubWaiters) wake()
        this.#iopubWaiters.clear()
      }
    } catch {
      // closed
    }
  }

  async heartbeat(timeoutMs = 5000): Promise<boolean> {
    await this.hb.send('ping')
    const answer = await Promise.race([this.hb.receive(), sleep(timeoutMs).then(() => undefined)])
    return answer?.[0]?.toString() === 'ping'
  }

  async close(): Promise<void> {
    if (this.process.exitCode === null) {
      try {
        await Promise.race([this.request('control', 'shutdown_request', { restart: false }), sleep(3000)])
      } catch {
        // already gone
      }
      await Promise.race([this.exited, sleep(3000)])
      if (this.process.exitCode === null) this.process.kill('SIGKILL')
    }
    for (const socket of [this.shell, this.control, this.stdin, this.iopub, this.hb]) socket.close()
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

async function freePorts(count: number): Promise<number[]> {
  const { createServer } = await import('node:net')
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve) => {
      const server = createServer()
      server.listen(0, '127.0.0.1', () => resolve(server))
    })),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}
