import { randomUUID } from 'node:crypto'
import inspector from 'node:inspector'
import { Worker } from 'node:worker_threads'
import * as zmq from 'zeromq'
import { createRequire } from 'node:module'
import { KernelError } from './errors'
import { FLAG_ALIVE, FLAG_INTERRUPT, type ExecuteOutcome, type FromEvaluator, type ToEvaluator } from './protocol'
import { decodeMessage, encodeMessage, endpoint, makeHeader, PROTOCOL_VERSION, Signer, type ConnectionInfo, type JupyterMessage, type MessageHeader } from './wire'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** Options of {@link Kernel}. */
export interface KernelOptions {
  /** Folder relative imports in cells resolve from (default: the process's working directory). */
  cwd?: string
  /** Where the kernel logs dropped messages and its own failures (default: stderr). */
  log?: (line: string) => void
  /** URL of the evaluator thread's script (default: `worker.js` next to this module). */
  workerUrl?: URL
}

// The version only: loading TypeScript itself is the evaluator thread's job, so this one starts fast.
const TS_VERSION = (createRequire(import.meta.url)('typescript/package.json') as { version: string }).version

/**
 * The kernel's name, version and language, as sent in `kernel_info_reply`.
 *
 * @example
 * ```ts
 * KERNEL_INFO.language_info.name // 'typescript'
 * ```
 */
export const KERNEL_INFO = {
  implementation: 'unet-kernel',
  implementation_version: '0.0.0',
  language_info: {
    name: 'typescript',
    version: TS_VERSION,
    mimetype: 'text/typescript',
    file_extension: '.ts',
    pygments_lexer: 'typescript',
    codemirror_mode: { name: 'javascript', typescript: true },
  },
  banner: `unet-kernel: TypeScript ${TS_VERSION} on Node.js ${process.versions.node}, with the @unet toolkit`,
  help_links: [{ text: 'U-Net toolkit', url: 'https://github.com/unet-toolkit/unet' }],
}

/** Serializes sends on one socket (a zeromq socket allows one send in flight). */
class Outbox {
  #chain: Promise<void> = Promise.resolve()
  constructor(
    private readonly socket: zmq.Writable,
    private readonly log: (line: string) => void,
  ) {}
  send(frames: (Buffer | string)[]): Promise<void> {
    this.#chain = this.#chain.then(
      () => this.socket.send(frames),
    ).catch((error: unknown) => this.log(`send failed: ${String(error)}`))
    return this.#chain
  }
}

interface Pending {
  resolve(content: unknown): void
}

interface Evaluation {
  id: number
  parent: MessageHeader
  interruptedAt?: number
}

/**
 * A Jupyter kernel (messaging protocol 5.3) that runs TypeScript cells. The main thread owns the
 * five ZeroMQ sockets; cells run in a worker thread that keeps the notebook's state, so heartbeat,
 * control and interrupts are answered even while a cell spins.
 *
 * @example
 * ```ts
 * const kernel = new Kernel(await readConnectionFile(file))
 * await kernel.start()
 * await kernel.closed // resolves after shutdown_request
 * ```
 */
export class Kernel {
  readonly #info: ConnectionInfo
  readonly #signer: Signer
  readonly #log: (line: string) => void
  readonly #cwd: string
  readonly #workerUrl: URL
  readonly #session = randomUUID()
  readonly #shell = new zmq.Router()
  readonly #control = new zmq.Router()
  readonly #stdin = new zmq.Router()
  readonly #iopub = new zmq.Publisher()
  readonly #hb = new zmq.Reply()
  readonly #out: { shell: Outbox; control: Outbox; stdin: Outbox; iopub: Outbox }
  readonly #flags = new Int32Array(new SharedArrayBuffer(8))
  readonly #pending = new Map<number, Pending>()
  readonly #shellQueue: JupyterMessage[] = []
  #worker: Worker | undefined
  #workerReady: Promise<void> = Promise.resolve()
  #inspector: inspector.Session | undefined
  #inspectorSession: string | undefined
  #nextId = 1
  /** Set when a termination was requested and the evaluator has not yet shown it is past it. */
  #terminated = false
  #executionCount = 0
  #current: Evaluation | undefined
  readonly #history: { line: number; input: string; output: string | null }[] = []
  #currentRequest: JupyterMessage | undefined
  readonly #inputWaiting = new Map<string, number>()
  #lastParent: MessageHeader | undefined
  #processing = false
  #stopping = false
  #closedResolve!: (restart: boolean) => void
  /** Resolves (with the `restart` flag) once a shutdown request has been answered and the sockets are closed. */
  readonly closed: Promise<boolean> = new Promise((resolve) => (this.#closedResolve = resolve))

  /**
   * @param info - the connection file's contents
   * @param options - working directory, logger
   */
  constructor(info: ConnectionInfo, options: KernelOptions = {}) {
    this.#info = info
    this.#signer = new Signer(info.key, info.signature_scheme)
    this.#log = options.log ?? ((line) => process.stderr.write(`[unet-kernel] ${line}\n`))
    this.#cwd = options.cwd ?? process.cwd()
    this.#workerUrl = options.workerUrl ?? new URL('./worker.js', import.meta.url)
    this.#out = {
      shell: new Outbox(this.#shell, this.#log),
      control: new Outbox(this.#control, this.#log),
      stdin: new Outbox(this.#stdin, this.#log),
      iopub: new Outbox(this.#iopub, this.#log),
    }
  }

  /** The kernel's session id (the `session` field of every header it sends). */
  get session(): string {
    return this.#session
  }

  /**
   * Binds the sockets on the connection file's ip and ports, starts the evaluator thread and begins
   * serving. Publishes `status: starting`.
   *
   * @returns once every socket is bound
   */
  async start(): Promise<void> {
    const info = this.#info
    for (const socket of [this.#shell, this.#control, this.#stdin, this.#iopub, this.#hb]) socket.linger = 0
    await Promise.all([
      this.#shell.bind(endpoint(info, info.shell_port)),
      this.#control.bind(endpoint(info, info.control_port)),
      this.#stdin.bind(endpoint(info, info.stdin_port)),
      this.#iopub.bind(endpoint(info, info.iopub_port)),
      this.#hb.bind(endpoint(info, info.hb_port)),
    ])
    this.#startWorker()
    void this.#heartbeat()
    void this.#serve(this.#shell, 'shell')
    void this.#serve(this.#control, 'control')
    void this.#serve(this.#stdin, 'stdin')
    await this.#publish('status', { execution_state: 'starting' }, undefined)
  }

  /**
   * Interrupts the running cell, keeping the kernel's state: the cell's next loop iteration or
   * `await` throws `KeyboardInterrupt`; a cell stuck in code that never reaches either (a library
   * call, a `new Function` loop) is terminated after a short grace period.
   */
  interrupt(): void {
    const current = this.#current
    if (!current || !this.#worker) return
    Atomics.store(this.#flags, FLAG_INTERRUPT, current.id)
    this.#toWorker({ type: 'interrupt', id: current.id })
    // Pressing stop again while the first interrupt is at work just asks again.
    if (current.interruptedAt !== undefined) return
    current.interruptedAt = Date.now()
    let alive = Atomics.load(this.#flags, FLAG_ALIVE)
    const check = (round: number): void => {
      if (this.#current !== current) return
      const now = Atomics.load(this.#flags, FLAG_ALIVE)
      if (now === alive) {
        // The evaluator's event loop has not turned since the last look: a synchronous cell holds it
        // in code that never reaches a loop check. Terminate that JavaScript (the thread with its
        // globals and modules survives); the queued interrupt then answers for the cell.
        this.#terminateEvaluation()
      }
      // Ask again in case the first request was swallowed by the termination.
      this.#toWorker({ type: 'interrupt', id: current.id })
      alive = now
      if (round < 8) setTimeout(() => check(round + 1), 500).unref()
    }
    setTimeout(() => check(0), 300).unref()
  }

  #terminateEvaluation(): void {
    if (!this.#inspector || !this.#inspectorSession) return
    this.#terminated = true
    this.#inspector.post('NodeWorker.sendMessageToWorker', {
      sessionId: this.#inspectorSession,
      message: JSON.stringify({ id: this.#nextId++, method: 'Runtime.terminateExecution' }),
    })
  }

  #startWorker(): void {
    Atomics.store(this.#flags, FLAG_INTERRUPT, 0)
    this.#terminated = false
    const worker = new Worker(this.#workerUrl, { workerData: { flags: this.#flags.buffer, cwd: this.#cwd }, stdout: false, stderr: false })
    this.#worker = worker
    this.#workerReady = new Promise((resolve) => {
      const onReady = (message: FromEvaluator): void => {
        if (message.type === 'ready') {
          worker.off('message', onReady)
          resolve()
        }
      }
      worker.on('message', onReady)
    })
    worker.on('message', (message: FromEvaluator) => this.#fromWorker(message))
    worker.on('error', (error) => this.#log(`evaluator failed: ${error.stack ?? String(error)}`))
    worker.on('exit', (code) => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      if (this.#stopping) return
      this.#log(`evaluator exited with code ${code}; starting a fresh one (cell state is lost)`)
      for (const [id, pending] of this.#pending) {
        pending.resolve({ status: 'error', ename: 'KernelRestarted', evalue: `the evaluator exited (code ${code}); the notebook's state was reset`, traceback: [`KernelRestarted: the evaluator exited (code ${code})`] })
        this.#pending.delete(id)
      }
      this.#startWorker()
    })
    this.#attachInspector()
  }

  /** One inspector session on this thread reaches every evaluator thread (NodeWorker domain). */
  #attachInspector(): void {
    if (!this.#inspector) {
      this.#inspector = new inspector.Session()
      this.#inspector.connect()
      this.#inspector.on('NodeWorker.attachedToWorker', (event: { params: { sessionId: string; workerInfo: { workerId: string } } }) => {
        if (String(this.#worker?.threadId) === event.params.workerInfo.workerId) this.#inspectorSession = event.params.sessionId
      })
      this.#inspector.post('NodeWorker.enable', { waitForDebuggerOnStart: false })
    }
  }

  #toWorker(message: ToEvaluator): void {
    this.#worker?.postMessage(message)
  }

  /**
   * A termination that found no JavaScript running ends the next thing the evaluator runs; make
   * that a ping (resent until one is answered) rather than the next cell.
   */
  async #barrier(): Promise<void> {
    while (this.#terminated && this.#worker) {
      const id = this.#nextId++
      const pong = new Promise<boolean>((resolve) => this.#pending.set(id, { resolve: () => resolve(true) }))
      this.#toWorker({ type: 'ping', id })
      const answered = await Promise.race([pong, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 250))])
      this.#pending.delete(id)
      if (answered) this.#terminated = false
    }
  }

  async #rpc(message: DistributiveOmit<ToEvaluator, 'id'>, onStart?: (id: number) => void): Promise<unknown> {
    await this.#workerReady
    await this.#barrier()
    const id = this.#nextId++
    const reply = new Promise<unknown>((resolve) => this.#pending.set(id, { resolve }))
    onStart?.(id)
    this.#toWorker({ ...message, id } as ToEvaluator)
    return reply
  }

  #fromWorker(message: FromEvaluator): void {
    const parent = this.#current?.parent ?? this.#lastParent
    switch (message.type) {
      case 'reply': {
        const pending = this.#pending.get(message.id)
        this.#pending.delete(message.id)
        pending?.resolve(message.content)
        break
      }
      case 'stream':
        void this.#publish('stream', { name: message.name, text: message.text }, parent)
        break
      case 'display':
        void this.#publish(message.update ? 'update_display_data' : 'display_data', {
          data: message.data,
          metadata: message.metadata,
          transient: message.displayId === undefined ? {} : { display_id: message.displayId },
        }, parent)
        break
      case 'clear':
        void this.#publish('clear_output', { wait: message.wait }, parent)
        break
      case 'input_request':
        void this.#requestInput(message.id, message.prompt, message.password)
        break
      case 'ready':
        break
    }
  }

  /** Sends input_request on stdin to the client that sent the running execute_request. */
  async #requestInput(id: number, prompt: string, password: boolean): Promise<void> {
    const request = this.#currentRequest
    if (!request) {
      this.#toWorker({ type: 'input_reply', id, value: undefined, error: 'no request is running' })
      return
    }
    const header = makeHeader('input_request', this.#session)
    this.#inputWaiting.set(header.msg_id, id)
    await this.#out.stdin.send(
      encodeMessage({ identities: request.identities, header, parent_header: request.header, metadata: {}, content: { prompt, password } }, this.#signer),
    )
  }

  #onStdin(message: JupyterMessage): void {
    const id = this.#inputWaiting.get(message.parent_header.msg_id ?? '')
    if (id === undefined || message.header.msg_type !== 'input_reply') return
    this.#inputWaiting.delete(message.parent_header.msg_id!)
    this.#toWorker({ type: 'input_reply', id, value: String(message.content.value ?? '') })
  }

  async #heartbeat(): Promise<void> {
    try {
      for await (const frames of this.#hb) await this.#hb.send(frames)
    } catch (error) {
      if (!this.#stopping) this.#log(`heartbeat stopped: ${String(error)}`)
    }
  }

  async #serve(socket: zmq.Router, channel: 'shell' | 'control' | 'stdin'): Promise<void> {
    try {
      for await (const frames of socket) {
        let message: JupyterMessage
        try {
          message = decodeMessage(frames, this.#signer)
        } catch (error) {
          // Never run what we cannot authenticate; say so where an operator can see it.
          this.#log(`dropped a message on ${channel}: ${error instanceof KernelError ? error.message : String(error)}`)
          continue
        }
        if (channel === 'stdin') {
          this.#onStdin(message)
          continue
        }
        if (channel === 'control') void this.#handleControl(message)
        else {
          this.#shellQueue.push(message)
          void this.#drainShell()
        }
      }
    } catch (error) {
      if (!this.#stopping) this.#log(`${channel} stopped: ${String(error)}`)
    }
  }

  async #drainShell(): Promise<void> {
    if (this.#processing) return
    this.#processing = true
    try {
      while (this.#shellQueue.length > 0 && !this.#stopping) {
        const message = this.#shellQueue.shift()!
        try {
          await this.#handleShell(message)
        } catch (error) {
          this.#log(`failed to handle ${message.header.msg_type}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
        }
      }
    } finally {
      this.#processing = false
    }
  }

  async #handleControl(message: JupyterMessage): Promise<void> {
    const type = message.header.msg_type
    await this.#publish('status', { execution_state: 'busy' }, message.header)
    switch (type) {
      case 'interrupt_request':
        this.interrupt()
        await this.#reply(this.#out.control, message, 'interrupt_reply', { status: 'ok' })
        break
      case 'shutdown_request':
        await this.#shutdown(this.#out.control, message)
        return
      case 'kernel_info_request':
        await this.#reply(this.#out.control, message, 'kernel_info_reply', this.#kernelInfo())
        break
      default:
        await this.#replyUnknown(this.#out.control, message)
    }
    await this.#publish('status', { execution_state: 'idle' }, message.header)
  }

  async #handleShell(message: JupyterMessage): Promise<void> {
    const type = message.header.msg_type
    const content = message.content
    await this.#publish('status', { execution_state: 'busy' }, message.header)
    switch (type) {
      case 'kernel_info_request':
        await this.#reply(this.#out.shell, message, 'kernel_info_reply', this.#kernelInfo())
        break
      case 'execute_request':
        await this.#execute(message)
        break
      case 'complete_request': {
        const reply = await this.#rpc({ type: 'complete', code: String(content.code ?? ''), cursorPos: Number(content.cursor_pos ?? String(content.code ?? '').length) })
        await this.#reply(this.#out.shell, message, 'complete_reply', reply)
        break
      }
      case 'inspect_request': {
        const reply = await this.#rpc({ type: 'inspect', code: String(content.code ?? ''), cursorPos: Number(content.cursor_pos ?? 0), detailLevel: Number(content.detail_level ?? 0) })
        await this.#reply(this.#out.shell, message, 'inspect_reply', reply)
        break
      }
      case 'is_complete_request': {
        const reply = await this.#rpc({ type: 'is_complete', code: String(content.code ?? '') })
        await this.#reply(this.#out.shell, message, 'is_complete_reply', reply)
        break
      }
      case 'history_request':
        await this.#reply(this.#out.shell, message, 'history_reply', { status: 'ok', history: this.#historyFor(content) })
        break
      case 'comm_info_request':
        await this.#reply(this.#out.shell, message, 'comm_info_reply', { status: 'ok', comms: {} })
        break
      case 'shutdown_request':
        await this.#shutdown(this.#out.shell, message)
        return
      case 'comm_open':
      case 'comm_msg':
      case 'comm_close':
        break
      default:
        await this.#replyUnknown(this.#out.shell, message)
    }
    await this.#publish('status', { execution_state: 'idle' }, message.header)
  }

  /**
   * This session's inputs (and text results) for `history_request`: `tail` (last n), `range`
   * (lines start ≤ line < stop), `search` (glob pattern with * and ?, optionally unique, last n).
   */
  #historyFor(content: Record<string, unknown>): unknown[] {
    const output = content.output === true
    const type = String(content.hist_access_type ?? 'tail')
    let entries = this.#history
    if (type === 'range') {
      const session = Number(content.session ?? 0)
      if (session > 1) return []
      const start = Number(content.start ?? 1)
      const stop = content.stop === undefined || content.stop === null ? Infinity : Number(content.stop)
      entries = entries.filter((e) => e.line >= start && e.line < stop)
    } else if (type === 'search') {
      const glob = String(content.pattern ?? '*')
      const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]')}$`)
      entries = entries.filter((e) => re.test(e.input))
      if (content.unique === true) entries = entries.filter((e, i) => !entries.slice(i + 1).some((later) => later.input === e.input))
    }
    if (type !== 'range' && content.n !== undefined && content.n !== null) entries = entries.slice(-Number(content.n))
    return entries.map((e) => [1, e.line, output ? [e.input, e.output] : e.input])
  }

  async #execute(message: JupyterMessage): Promise<void> {
    const content = message.content as { code?: string; silent?: boolean; store_history?: boolean; stop_on_error?: boolean; user_expressions?: Record<string, string>; allow_stdin?: boolean }
    const code = String(content.code ?? '')
    const silent = content.silent === true
    const storeHistory = content.store_history ?? !silent
    if (!silent && storeHistory) this.#executionCount++
    const count = this.#executionCount
    if (!silent) await this.#publish('execute_input', { code, execution_count: count }, message.header)
    this.#lastParent = message.header
    // `name?` shows the name's documentation in the pager, as IPython does.
    const pager = /^\s*([A-Za-z_$][\w$.]*)\?{1,2}\s*$/.exec(code)
    if (pager && !silent) {
      const found = (await this.#rpc({ type: 'inspect', code: pager[1]!, cursorPos: pager[1]!.length, detailLevel: code.trim().endsWith('??') ? 1 : 0 })) as { found: boolean; data: Record<string, unknown> }
      const data = found.found ? found.data : { 'text/plain': `${pager[1]} is not defined` }
      if (storeHistory) this.#history.push({ line: count, input: code, output: null })
      await this.#reply(this.#out.shell, message, 'execute_reply', { status: 'ok', execution_count: count, user_expressions: {}, payload: [{ source: 'page', data, start: 0 }] })
      return
    }
    this.#currentRequest = message
    const outcome = (await this.#rpc({ type: 'execute', code, count, userExpressions: content.user_expressions ?? {}, allowStdin: content.allow_stdin === true }, (id) => {
      this.#current = { id, parent: message.header }
    })) as ExecuteOutcome
    this.#current = undefined
    this.#currentRequest = undefined
    if (storeHistory) {
      const text = outcome.status === 'ok' ? outcome.data?.['text/plain'] : undefined
      this.#history.push({ line: count, input: code, output: typeof text === 'string' ? text : null })
    }
    // An input box left open by an interrupted cell is answered by nobody.
    this.#inputWaiting.clear()
    if (outcome.status === 'ok') {
      if (outcome.data && !silent) {
        await this.#publish('execute_result', { execution_count: count, data: outcome.data, metadata: outcome.metadata ?? {} }, message.header)
      }
      await this.#reply(this.#out.shell, message, 'execute_reply', { status: 'ok', execution_count: count, user_expressions: outcome.userExpressions ?? {}, payload: [] })
      return
    }
    const { ename, evalue, traceback } = outcome
    // Requests that arrived before this error is reported are not run (as in IPython).
    const queued = content.stop_on_error === false ? [] : this.#shellQueue.filter((m) => m.header.msg_type === 'execute_request')
    await this.#publish('error', { ename, evalue, traceback }, message.header)
    await this.#reply(this.#out.shell, message, 'execute_reply', { status: 'error', execution_count: count, ename, evalue, traceback, user_expressions: {}, payload: [] }, { status: 'error' })
    await this.#abort(queued)
  }

  async #abort(queued: JupyterMessage[]): Promise<void> {
    if (queued.length === 0) return
    this.#shellQueue.splice(0, this.#shellQueue.length, ...this.#shellQueue.filter((m) => !queued.includes(m)))
    for (const message of queued) {
      await this.#publish('status', { execution_state: 'busy' }, message.header)
      await this.#reply(this.#out.shell, message, 'execute_reply', { status: 'aborted', execution_count: this.#executionCount }, { status: 'aborted' })
      await this.#publish('status', { execution_state: 'idle' }, message.header)
    }
  }

  async #shutdown(out: Outbox, message: JupyterMessage): Promise<void> {
    const restart = message.content.restart === true
    await this.#reply(out, message, 'shutdown_reply', { status: 'ok', restart })
    await this.#publish('status', { execution_state: 'idle' }, message.header)
    await this.close()
    this.#closedResolve(restart)
  }

  /**
   * Stops the evaluator and closes every socket.
   *
   * @returns once closed
   */
  async close(): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    // Let queued sends go out before the sockets close.
    await new Promise((resolve) => setTimeout(resolve, 50))
    await this.#worker?.terminate()
    this.#inspector?.disconnect()
    for (const socket of [this.#shell, this.#control, this.#stdin, this.#iopub, this.#hb]) socket.close()
  }

  #kernelInfo(): Record<string, unknown> {
    return { status: 'ok', protocol_version: PROTOCOL_VERSION, ...KERNEL_INFO, debugger: false }
  }

  async #replyUnknown(out: Outbox, message: JupyterMessage): Promise<void> {
    const type = message.header.msg_type
    if (!type.endsWith('_request')) return
    this.#log(`no handler for ${type}`)
    await this.#reply(out, message, type.replace(/_request$/, '_reply'), { status: 'error', ename: 'NotImplemented', evalue: `unet-kernel does not handle ${type}`, traceback: [] })
  }

  async #reply(out: Outbox, parent: JupyterMessage, type: string, content: unknown, metadata: Record<string, unknown> = {}): Promise<void> {
    await out.send(
      encodeMessage(
        { identities: parent.identities, header: makeHeader(type, this.#session), parent_header: parent.header, metadata, content: content as Record<string, unknown> },
        this.#signer,
      ),
    )
  }

  async #publish(type: string, content: Record<string, unknown>, parent: MessageHeader | undefined): Promise<void> {
    await this.#out.iopub.send(
      encodeMessage(
        { identities: [Buffer.from(`kernel.${this.#session}.${type}`)], header: makeHeader(type, this.#session), parent_header: parent ?? {}, metadata: {}, content },
        this.#signer,
      ),
    )
  }
}
