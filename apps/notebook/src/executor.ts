import { Console } from 'node:console'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { inspect } from 'node:util'
import vm from 'node:vm'
import { KeyboardInterrupt } from './errors'
import { createDisplay, isDisplayHandle, MIME_BUNDLE, type Display, type DisplaySink } from './display'
import { declarationDoc, importForNotebook, unetPackages } from './resolve'
import { CellSyntaxError, RUNTIME, transformCell, type TransformedCell } from './transform'
import { FLAG_ALIVE, FLAG_INTERRUPT, type ExecuteOutcome, type FromEvaluator, type MimeBundle } from './protocol'

const OWN_FILE = fileURLToPath(import.meta.url)
const RED = '\u001b[0;31m'
const CYAN = '\u001b[0;36m'
const RESET = '\u001b[0m'

const KEYWORDS = ['async', 'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'default', 'delete', 'do', 'else', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'interface', 'let', 'new', 'null', 'return', 'switch', 'this', 'throw', 'true', 'try', 'type', 'typeof', 'undefined', 'var', 'void', 'while', 'yield']

interface Running {
  id: number
  settled: boolean
}

/**
 * Runs cells in the current thread's global scope, keeping their state, and reports outputs through
 * `post`. Lives in a worker thread so that the kernel's sockets stay responsive while a cell runs.
 */
export class Evaluator {
  readonly #post: (message: FromEvaluator) => void
  readonly #flags: Int32Array
  readonly #cwd: string
  readonly #cells = new Map<string, { cell: TransformedCell; source: string }>()
  readonly #origins = new Map<string, { module: string; imported: string }>()
  readonly #waiters = new Set<(reason: unknown) => void>()
  readonly #buffers = { stdout: '', stderr: '' }
  #lastFlush = Date.now()
  #flushTimer: NodeJS.Timeout | undefined
  #running: Running | undefined
  readonly #pending = new Set<Promise<unknown>>()
  readonly #inputs = new Map<number, { resolve(value: string): void; reject(error: Error): void }>()
  #nextInput = 1
  #allowStdin = false
  readonly display: Display

  constructor(post: (message: FromEvaluator) => void, flags: Int32Array, cwd: string) {
    this.#post = post
    this.#flags = flags
    this.#cwd = cwd
    const sink: DisplaySink = {
      display: (data, metadata, displayId, update) => {
        this.flush()
        this.#post({ type: 'display', data, metadata, update, ...(displayId === undefined ? {} : { displayId }) })
      },
      clear: (wait) => {
        this.flush()
        this.#post({ type: 'clear', wait })
      },
      track: (pending) => {
        const settled: Promise<unknown> = pending.then(
          () => this.#pending.delete(settled),
          () => this.#pending.delete(settled),
        )
        this.#pending.add(settled)
      },
    }
    this.display = createDisplay(sink)
  }

  /** Puts the helpers cells use (`display`, `console` that writes to the notebook) into the global scope. */
  install(): void {
    const g = globalThis as Record<string, unknown>
    const runtime = {
      aw: (value: unknown) => this.#await(value),
      tick: () => this.#tick(),
      import: (specifier: string) => this.#await(importForNotebook(String(specifier), this.#cwd)),
      defaultOf: (ns: Record<string, unknown>) => (ns && 'default' in ns ? ns.default : ns),
      member: (ns: Record<string, unknown>, specifier: string, name: string) => {
        if (name in ns) return ns[name]
        const fallback = (ns.default as Record<string, unknown> | undefined)?.[name]
        if (fallback !== undefined) return fallback
        throw new SyntaxError(`the module "${specifier}" has no export named "${name}"`)
      },
    }
    Object.defineProperty(g, RUNTIME, { value: runtime, enumerable: false, writable: false, configurable: false })
    g.display = this.display
    g.input = (prompt = '', options: { password?: boolean } = {}) => this.#await(this.input(String(prompt), options.password === true))
    const out = (name: 'stdout' | 'stderr') => new Writable({ write: (chunk, _enc, done) => (this.write(name, String(chunk)), done()) })
    g.console = new Console({ stdout: out('stdout'), stderr: out('stderr'), colorMode: false })
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = process[name] as unknown as { write: (chunk: unknown, ...rest: unknown[]) => boolean }
      stream.write = (chunk: unknown, ...rest: unknown[]) => {
        this.write(name, typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'))
        const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined
        cb?.()
        return true
      }
    }
    // Errors from work a cell left running in the background must not take the kernel down.
    process.on('unhandledRejection', (reason) => this.write('stderr', `Unhandled promise rejection: ${describe(reason)}\n`))
    process.on('uncaughtException', (error) => this.write('stderr', `Uncaught exception: ${describe(error)}\n`))
    setInterval(() => Atomics.add(this.#flags, FLAG_ALIVE, 1), 20).unref()
  }

  /** Appends text to a stream; flushed in chunks so a busy cell still shows its output as it goes. */
  write(name: 'stdout' | 'stderr', text: string): void {
    if (!text) return
    this.#buffers[name] += text
    if (Date.now() - this.#lastFlush > 100 || this.#buffers[name].length > 65536) this.flush()
    else this.#flushTimer ??= setTimeout(() => this.flush(), 20)
  }

  /** Sends buffered stream text now. */
  flush(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    this.#lastFlush = Date.now()
    for (const name of ['stdout', 'stderr'] as const) {
      const text = this.#buffers[name]
      if (text) {
        this.#buffers[name] = ''
        this.#post({ type: 'stream', name, text })
      }
    }
  }

  /**
   * Runs one cell.
   *
   * @param id - the request id (also what an interrupt names)
   * @param source - the TypeScript source
   * @param count - the execution count, used in the cell's file name for tracebacks
   * @returns the result or the error, ready for the protocol
   */
  async execute(id: number, source: string, count: number, options: { userExpressions?: Record<string, string>; allowStdin?: boolean } = {}): Promise<ExecuteOutcome> {
    const running: Running = { id, settled: false }
    this.#running = running
    this.#allowStdin = options.allowStdin === true
    const name = `cell[${count}]`
    try {
      const cell = transformCell(source, name)
      this.#cells.set(name, { cell, source })
      const g = globalThis as Record<string, unknown>
      for (const declared of cell.declared) if (!Object.prototype.hasOwnProperty.call(g, declared)) g[declared] = undefined
      for (const { local, module, imported } of cell.imports) this.#origins.set(local, { module, imported })
      const run = new vm.Script(cell.code, { filename: name }).runInThisContext() as () => Promise<unknown>
      let value = await this.#await(run())
      if (cell.hasResult && isThenable(value)) value = await this.#await(value)
      // Images still being encoded belong to this cell's output.
      if (this.#pending.size > 0) await this.#await(Promise.all(this.#pending))
      const userExpressions = await this.#userExpressions(options.userExpressions ?? {})
      return this.#finish(running, { status: 'ok', ...(cell.hasResult ? formatResult(value) : {}), userExpressions })
    } catch (error) {
      return this.#finish(running, this.formatError(error, source))
    }
  }

  /** Evaluates `user_expressions` after a successful cell: one result (or error) per name. */
  async #userExpressions(expressions: Record<string, string>): Promise<Record<string, unknown>> {
    const results: Record<string, unknown> = {}
    for (const [name, expression] of Object.entries(expressions)) {
      try {
        const cell = transformCell(String(expression), 'user_expression')
        const run = new vm.Script(cell.code, { filename: 'user_expression' }).runInThisContext() as () => Promise<unknown>
        const value = await this.#await(run())
        const { data, metadata } = formatResult(value)
        results[name] = { status: 'ok', data: data ?? { 'text/plain': 'undefined' }, metadata: metadata ?? {} }
      } catch (error) {
        const { ename, evalue, traceback } = this.formatError(error)
        results[name] = { status: 'error', ename, evalue, traceback }
      }
    }
    return results
  }

  /**
   * Asks the front end for a line of input (`input_request` on the stdin channel).
   *
   * @param prompt - the text shown before the input box
   * @param password - hide what is typed
   * @returns what the user typed
   */
  input(prompt: string, password: boolean): Promise<string> {
    if (!this.#allowStdin) {
      return Promise.reject(new Error('input() is not available: this front end does not accept input (allow_stdin is false)'))
    }
    this.flush()
    const id = this.#nextInput++
    return new Promise((resolve, reject) => {
      this.#inputs.set(id, { resolve, reject })
      this.#post({ type: 'input_request', id, prompt, password })
    })
  }

  /**
   * Delivers the front end's answer to an {@link input} call.
   *
   * @param id - the input request
   * @param value - the text, when the front end answered
   * @param error - why there is no answer
   */
  inputReply(id: number, value: string | undefined, error?: string): void {
    const waiting = this.#inputs.get(id)
    this.#inputs.delete(id)
    if (value !== undefined) waiting?.resolve(value)
    else waiting?.reject(new Error(error ?? 'no input'))
  }

  /**
   * Stops the running cell: cooperative first (the next loop iteration or `await` in the cell throws
   * `KeyboardInterrupt`); when the kernel had to terminate a blocking cell, this also answers for it.
   *
   * @param id - the execution to interrupt (stale ids are ignored)
   * @returns the outcome to report when the cell was stopped without reaching its own end, or undefined
   */
  interrupt(id: number): Promise<ExecuteOutcome | undefined> {
    const running = this.#running
    if (!running || running.id !== id) return Promise.resolve(undefined)
    for (const reject of this.#waiters) reject(new KeyboardInterrupt())
    this.#waiters.clear()
    // If the cell's own code got the exception, its execute() settles first; otherwise (it was
    // terminated, or it awaits something outside our reach) settle it here.
    return new Promise((resolve) =>
      setImmediate(() => {
        if (running.settled) return resolve(undefined)
        repairTfjsEngine()
        resolve(this.#finish(running, this.formatError(new KeyboardInterrupt())))
      }),
    )
  }

  #finish(running: Running, outcome: ExecuteOutcome): ExecuteOutcome {
    this.flush()
    if (running.settled) return outcome
    running.settled = true
    if (this.#running === running) this.#running = undefined
    Atomics.compareExchange(this.#flags, FLAG_INTERRUPT, running.id, 0)
    return outcome
  }

  /** Whether the running cell should stop now. */
  #interrupted(): boolean {
    const flag = Atomics.load(this.#flags, FLAG_INTERRUPT)
    return flag !== 0 && flag === this.#running?.id
  }

  #tick(): void {
    if (this.#interrupted()) throw new KeyboardInterrupt()
  }

  #await<T>(value: T): T | Promise<Awaited<T>> {
    if (!isThenable(value)) {
      this.#tick()
      return value
    }
    return new Promise<Awaited<T>>((resolve, reject) => {
      this.#waiters.add(reject)
      ;(value as PromiseLike<Awaited<T>>).then(
        (result) => {
          this.#waiters.delete(reject)
          if (this.#interrupted()) reject(new KeyboardInterrupt())
          else resolve(result)
        },
        (error: unknown) => {
          this.#waiters.delete(reject)
          reject(error)
        },
      )
      // Already interrupted: stop here, but only after a promise that has already failed (with its
      // own, more telling traceback) had its turn, and never leave its rejection unhandled.
      if (this.#interrupted()) queueMicrotask(() => reject(new KeyboardInterrupt()))
    })
  }

  /**
   * Turns anything thrown by a cell into an `error` message: name, message, and a traceback whose
   * cell frames point at the lines of the TypeScript the user wrote.
   *
   * @param error - what was thrown
   * @param source - the cell, to point at a syntax error
   * @returns the protocol's error fields
   */
  formatError(error: unknown, source?: string): Extract<ExecuteOutcome, { status: 'error' }> {
    const err = error instanceof Error ? error : undefined
    const ename = err?.name ?? (error === null ? 'null' : typeof error)
    const evalue = err ? err.message : describe(error)
    const traceback = [`${RED}${ename}${RESET}: ${evalue}`]
    if (error instanceof CellSyntaxError) {
      if (source !== undefined) {
        const text = source.split('\n')[error.line - 1] ?? ''
        traceback.push(`${CYAN}line ${error.line}${RESET}: ${text}`, `${' '.repeat(`line ${error.line}: `.length + error.column - 1)}^`)
      }
      return { status: 'error', ename, evalue, traceback }
    }
    let shownSource = false
    for (const line of (err?.stack ?? '').split('\n').slice(1)) {
      if (!/^\s+at /.test(line)) continue
      // The kernel's own frames (this module, Node internals) say nothing about the user's code.
      if (line.includes(OWN_FILE) || /\(node:|at node:/.test(line)) continue
      const mapped = line.replace(/(cell\[\d+\]):(\d+):(\d+)/, (_m, file: string, l: string, c: string) => {
        const entry = this.#cells.get(file)
        const original = entry ? entry.cell.originalLine(Number(l)) : Number(l)
        if (entry && !shownSource) {
          shownSource = true
          const text = entry.source.split('\n')[original - 1]
          if (text !== undefined) traceback.push(`${CYAN}${file} line ${original}${RESET}: ${text.trim()}`)
        }
        return `${file}:${original}:${c}`
      })
      traceback.push(mapped.replace(/^\s+/, '    '))
    }
    return { status: 'error', ename, evalue, traceback }
  }

  /**
   * Completes the name before the cursor: globals and cell-defined names, members of an object path
   * (`model.`), exports in `import { … } from '@unet/x'`, and module names after `from '`.
   *
   * @param code - the cell
   * @param cursorPos - the cursor, in code points
   * @returns the `complete_reply` content
   */
  async complete(code: string, cursorPos: number): Promise<Record<string, unknown>> {
    const cursor = toUtf16(code, cursorPos)
    const before = code.slice(0, cursor)
    const after = code.slice(cursor)
    let matches: string[] = []
    let start = cursor
    const moduleName = /\bfrom\s*['"]([^'"]*)$|\bimport\s*\(?\s*['"]([^'"]*)$/.exec(before)
    const importClause = /\bimport\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?\{[^}]*?([\w$]*)$/.exec(before)
    const member = /((?:[A-Za-z_$][\w$]*)(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*\.\s*([\w$]*)$/.exec(before)
    const word = /[A-Za-z_$][\w$]*$/.exec(before)
    if (moduleName) {
      const prefix = moduleName[1] ?? moduleName[2] ?? ''
      start = cursor - prefix.length
      matches = unetPackages().filter((n) => n.startsWith(prefix))
    } else if (importClause) {
      const prefix = importClause[1] ?? ''
      start = cursor - prefix.length
      const from = /^[^}]*\}\s*from\s*['"]([^'"]+)['"]/.exec(after)?.[1]
      if (from) {
        try {
          const ns = await importForNotebook(from, this.#cwd)
          matches = Object.keys(ns).filter((k) => k.startsWith(prefix) && k !== 'default')
        } catch {
          matches = []
        }
      }
    } else if (member) {
      const prefix = member[2] ?? ''
      start = cursor - prefix.length
      const target = lookup(member[1]!.replace(/\s+/g, ''))
      if (target.found && target.value !== null && target.value !== undefined) {
        matches = propertyNames(target.value).filter((n) => n.startsWith(prefix) && (prefix.startsWith('_') || !n.startsWith('_')))
      }
    } else if (word || /(^|[^\w$.])$/.test(before)) {
      const prefix = word?.[0] ?? ''
      start = cursor - prefix.length
      const names = new Set([...this.#userNames(), ...Object.getOwnPropertyNames(globalThis), ...KEYWORDS])
      matches = [...names].filter((n) => n.startsWith(prefix) && !n.startsWith('__'))
    }
    const user = new Set(this.#userNames())
    matches = [...new Set(matches)].sort((a, b) => Number(user.has(b)) - Number(user.has(a)) || a.localeCompare(b))
    const cursorStart = toCodePoints(code, start)
    // JupyterLab shows a kind icon per match from this (experimental) field.
    const owner = member ? lookup(member[1]!.replace(/\s+/g, '')).value : globalThis
    const kinds = matches.map((text) => ({ start: cursorStart, end: cursorPos, text, type: completionKind(text, owner, Boolean(moduleName)) }))
    return {
      status: 'ok',
      matches,
      cursor_start: cursorStart,
      cursor_end: cursorPos,
      metadata: { _jupyter_types_experimental: kinds },
    }
  }

  #userNames(): string[] {
    const names: string[] = []
    for (const { cell } of this.#cells.values()) names.push(...cell.declared)
    return names
  }

  /**
   * Describes the name under the cursor: its TSDoc from the package's declarations when it came from
   * an import (the @unet APIs), else its type and value.
   *
   * @param code - the cell
   * @param cursorPos - the cursor, in code points
   * @param detailLevel - 0 or 1 (1 adds a function's source)
   * @returns the `inspect_reply` content
   */
  inspect(code: string, cursorPos: number, detailLevel: number): Record<string, unknown> {
    const cursor = toUtf16(code, cursorPos)
    const left = /[\w$.]*$/.exec(code.slice(0, cursor))?.[0] ?? ''
    const right = /^[\w$]*/.exec(code.slice(cursor))?.[0] ?? ''
    const path = (left + right).replace(/^\.+|\.+$/g, '')
    if (!path) return { status: 'ok', found: false, data: {}, metadata: {} }
    const target = lookup(path)
    const head = path.split('.')[0]!
    const origin = this.#origins.get(head)
    const parts: string[] = []
    if (origin) {
      const exported = path === head ? origin.imported : path.split('.').at(-1)!
      const doc = exported === '*' || exported === 'default' ? undefined : declarationDoc(origin.module, exported, this.#cwd)
      parts.push(`${path} — from ${origin.module}`)
      if (doc) parts.push(doc)
    }
    if (target.found) {
      const value = target.value
      if (typeof value === 'function') {
        const source = Function.prototype.toString.call(value)
        parts.push(`${value.name || path}: ${/^class\b/.test(source) ? 'class' : 'function'}(${value.length} parameter${value.length === 1 ? '' : 's'})`)
        parts.push(detailLevel > 0 ? source : source.split('{')[0]!.trim())
      } else {
        parts.push(`${path}: ${typeName(value)}`)
        parts.push(inspect(value, { depth: 1, maxArrayLength: 20 }))
      }
    }
    if (!target.found && !origin) return { status: 'ok', found: false, data: {}, metadata: {} }
    return { status: 'ok', found: true, data: { 'text/plain': parts.join('\n\n') }, metadata: {} }
  }
}

function completionKind(name: string, owner: unknown, isModule: boolean): string {
  if (isModule) return 'module'
  let value: unknown
  try {
    value = owner === null || owner === undefined ? undefined : (owner as Record<string, unknown>)[name]
  } catch {
    return 'instance'
  }
  if (value === undefined && KEYWORDS.includes(name)) return 'keyword'
  if (typeof value === 'function') return /^class\b/.test(Function.prototype.toString.call(value)) ? 'class' : 'function'
  return 'instance'
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`
  return inspect(value, { depth: 2 })
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value !== 'object') return typeof value
  return (value as object).constructor?.name ?? 'object'
}

/** Follows `a.b.c` from the global scope without calling anything. */
function lookup(path: string): { found: boolean; value?: unknown } {
  let value: unknown = globalThis
  for (const key of path.split('.')) {
    if (value === null || value === undefined) return { found: false }
    try {
      if (!(key in Object(value))) return { found: false }
      value = (value as Record<string, unknown>)[key]
    } catch {
      return { found: false }
    }
  }
  return { found: true, value }
}

function propertyNames(value: unknown): string[] {
  const names = new Set<string>()
  for (let o: object | null = Object(value) as object; o && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const n of Object.getOwnPropertyNames(o)) if (n !== 'constructor') names.add(n)
  }
  return [...names]
}

/** The text/plain (or rich) representation of a cell's result; nothing for undefined and display handles. */
export function formatResult(value: unknown): { data?: MimeBundle; metadata?: Record<string, unknown> } {
  if (value === undefined || isDisplayHandle(value)) return {}
  const rich = (value as { [MIME_BUNDLE]?: () => MimeBundle } | null)?.[MIME_BUNDLE]
  if (typeof rich === 'function') return { data: rich.call(value), metadata: {} }
  const tensor = value as { dataSync?: unknown; shape?: unknown; toString(): string }
  if (typeof tensor?.dataSync === 'function' && Array.isArray(tensor.shape)) {
    return { data: { 'text/plain': tensor.toString() }, metadata: {} }
  }
  return { data: { 'text/plain': inspect(value, { depth: 4, maxArrayLength: 100, breakLength: 100 }) }, metadata: {} }
}

/**
 * A terminated cell can leave tfjs inside a `tidy` scope; close what it left open so later cells
 * do not track their tensors in a dead scope.
 */
function repairTfjsEngine(): void {
  const engine = (globalThis as { _tfengine?: { state?: { scopeStack?: unknown[]; kernelDepth?: number; gradientDepth?: number }; endScope?: () => void } })._tfengine
  if (!engine?.state?.scopeStack || typeof engine.endScope !== 'function') return
  try {
    while (engine.state.scopeStack.length > 0) engine.endScope()
    engine.state.kernelDepth = 0
    engine.state.gradientDepth = 0
  } catch {
    // Best effort: the engine is in an unknown state already.
  }
}

function toUtf16(code: string, codePoints: number): number {
  let units = 0
  let points = 0
  for (const ch of code) {
    if (points >= codePoints) break
    units += ch.length
    points++
  }
  return units
}

function toCodePoints(code: string, units: number): number {
  return Array.from(code.slice(0, units)).length
}
