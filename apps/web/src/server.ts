import { createReadStream, existsSync } from 'node:fs'
import { readFile, realpath, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, extname, join, posix, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WebError } from './errors'
import { parseRun, RunFormatError, type RunSpec } from './run'

/** Options of {@link serve}. */
export interface ServeOptions {
  /** The run folder (holding run.json). */
  run: string
  /** Port to listen on (default 8080; 0 picks a free one). */
  port?: number
  /** Address to bind (default 127.0.0.1: only this machine can connect). */
  host?: string
  /** Folder of the built page (default: the page built beside this module, dist/page). */
  pageDir?: string
  /** Where the "serving … at URL" line goes (default: stdout); `null` prints nothing. */
  log?: ((line: string) => void) | null
}

/** A running server, from {@link serve}. */
export interface RunningServer {
  /** The page's address, e.g. `http://127.0.0.1:8080/`. */
  url: string
  port: number
  /** Stops listening and ends open connections. */
  close(): Promise<void>
  /** The underlying node:http server. */
  server: Server
}

/** URL prefix under which the run's files are served; the page reads `run/run.json` relative to itself. */
export const RUN_PREFIX = '/run/'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

function defaultPageDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  // dist/server.js sits beside dist/page; the source (src/server.ts, in tests) finds the built page in ../dist/page
  for (const dir of [join(here, 'page'), join(here, '..', 'dist', 'page')]) if (existsSync(join(dir, 'index.html'))) return dir
  return join(here, 'page')
}

/**
 * Turns a request path into a safe relative path, or null: percent-decoding once, refusing `..` and `.`
 * segments, empty segments (`//`, which would make an absolute path), backslashes and NUL. A path that
 * survives this can only name something under the folder it is joined to; symlinks are checked separately.
 */
export function safeRelativePath(urlPath: string): string | null {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return null
  }
  if (decoded.includes('\0') || decoded.includes('\\') || decoded.includes('%')) return null
  const parts = decoded.split('/')
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return null
  return parts.join('/')
}

/** Weight files a model.json lists (relative to the run folder), or [] when it cannot be read. */
async function weightFiles(runDir: string, modelPath: string): Promise<string[]> {
  try {
    const json = JSON.parse(await readFile(join(runDir, modelPath), 'utf8')) as { weightsManifest?: { paths?: unknown[] }[] }
    const base = posix.dirname(modelPath)
    const files: string[] = []
    for (const group of json.weightsManifest ?? []) {
      for (const p of group.paths ?? []) {
        if (typeof p !== 'string' || p.startsWith('/') || p.includes('\\') || /^[a-z][a-z0-9+.-]*:/i.test(p)) continue
        // tfjs writes './group1-shard1of1.bin'; the browser asks for it without the './'
        const joined = posix.normalize(posix.join(base, p))
        const safe = safeRelativePath(joined)
        if (safe !== null) files.push(safe)
      }
    }
    return files
  } catch {
    return []
  }
}

/**
 * The run's files that may be served: run.json, the model.json files it names and their weight files.
 * Read again on each request, because training rewrites run.json whenever the best model changes.
 */
async function allowedRunFiles(runDir: string): Promise<Set<string>> {
  const allowed = new Set(['run.json'])
  let run: RunSpec
  try {
    run = parseRun(await readFile(join(runDir, 'run.json'), 'utf8'), join(runDir, 'run.json'))
  } catch {
    return allowed
  }
  for (const modelPath of run.modelPaths) {
    allowed.add(modelPath)
    for (const f of await weightFiles(runDir, modelPath)) allowed.add(f)
  }
  return allowed
}

/** The real path of `root/rel` when it is a regular file whose real path stays inside `root` (symlinks resolved), else null. */
async function fileInside(root: string, rel: string): Promise<string | null> {
  try {
    const realRoot = await realpath(root)
    const real = await realpath(join(root, rel))
    const inside = relative(realRoot, real)
    if (inside === '' || inside.startsWith('..') || resolve(realRoot, inside) !== real || inside.split(sep).includes('..')) return null
    return (await stat(real)).isFile() ? real : null
  } catch {
    return null
  }
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' })
  res.end('not found\n')
}

async function handle(req: IncomingMessage, res: ServerResponse, runDir: string, pageDir: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' })
    res.end('only GET and HEAD\n')
    return
  }
  const raw = req.url ?? '/'
  // only origin-form paths: an absolute URL or anything not starting with one slash is refused
  if (!raw.startsWith('/') || raw.startsWith('//')) return notFound(res)
  const path = raw.split(/[?#]/, 1)[0]!
  let file: string | null = null
  let fromRun = false
  if (path === '/' || path === '/index.html') {
    file = await fileInside(pageDir, 'index.html')
  } else if (path.startsWith(RUN_PREFIX)) {
    const rel = safeRelativePath(path.slice(RUN_PREFIX.length))
    if (rel !== null && (await allowedRunFiles(runDir)).has(rel)) file = await fileInside(runDir, rel)
    fromRun = true
  } else {
    const rel = safeRelativePath(path.slice(1))
    if (rel !== null) file = await fileInside(pageDir, rel)
  }
  if (file === null) return notFound(res)
  const size = (await stat(file)).size
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': size,
    // the run's files change when training finds a better model; the page's files are named by content
    'Cache-Control': fromRun || path === '/' || path === '/index.html' ? 'no-cache' : 'max-age=31536000, immutable',
    'X-Content-Type-Options': 'nosniff',
    // cross-origin isolation lets the wasm backend use threads (SharedArrayBuffer)
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Referrer-Policy': 'no-referrer',
  })
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  const stream = createReadStream(file)
  stream.on('error', () => res.destroy())
  stream.pipe(res)
}

/**
 * Serves the web page and a run's model files — run.json, the model.json files it names and their weight
 * files, nothing else of the run — so a browser can segment images with the run's model. Paths that try to
 * leave the run or the page (`..`, `%2e%2e%2f`, `//abs`, symlinks pointing outside) get 404.
 *
 * @param options - run folder, port (8080), host (127.0.0.1), page folder, log
 * @returns the server, its URL and `close()`
 * @throws {WebError} `NO_RUN` when the folder has no usable run.json or model; `NO_PAGE` when the page is not built; `LISTEN` when the port is taken
 * @example
 * ```ts
 * const server = await serve({ run: 'runs/run-20260101-120000', port: 8080 })
 * // prints: serving runs/run-20260101-120000 at http://127.0.0.1:8080/
 * await server.close()
 * ```
 */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const runDir = resolve(options.run)
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 8080
  const pageDir = resolve(options.pageDir ?? defaultPageDir())
  const log = options.log === undefined ? (line: string) => process.stdout.write(`${line}\n`) : options.log
  const runJson = join(runDir, 'run.json')
  let text: string
  try {
    text = await readFile(runJson, 'utf8')
  } catch (cause) {
    throw new WebError('NO_RUN', `${runJson} cannot be read (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); pass --model with a run folder that unet train wrote`, { cause })
  }
  let run: RunSpec
  try {
    run = parseRun(text, runJson)
  } catch (cause) {
    if (cause instanceof RunFormatError) throw new WebError('NO_RUN', cause.message, { cause })
    throw cause
  }
  if ((await fileInside(runDir, run.modelPath)) === null) {
    throw new WebError('NO_RUN', `${join(runDir, run.modelPath)} (named by ${runJson}) is missing or outside the run; train until a best model is saved`)
  }
  if (!existsSync(join(pageDir, 'index.html'))) {
    throw new WebError('NO_PAGE', `the web page is not built (${join(pageDir, 'index.html')} is missing); run pnpm --filter @unet/web build`)
  }
  const server = createServer((req, res) => {
    handle(req, res, runDir, pageDir).catch(() => {
      if (!res.headersSent) notFound(res)
      else res.destroy()
    })
  })
  await new Promise<void>((ok, fail) => {
    server.once('error', (cause: NodeJS.ErrnoException) => {
      const hint = cause.code === 'EADDRINUSE' ? `port ${port} is taken; pass --port with another, or 0 for any free one` : cause.message
      fail(new WebError('LISTEN', `cannot listen on ${host}:${port}: ${hint}`, { cause }))
    })
    server.listen(port, host, () => ok())
  })
  const bound = (server.address() as AddressInfo).port
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host
  const url = `http://${shownHost}:${bound}/`
  log?.(`serving ${options.run} (${run.modelPath}, ${run.input.width}×${run.input.height}×${run.input.channels}) at ${url}`)
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') log?.(`note: bound to ${host}, so other machines can reach the page and the model`)
  return {
    url,
    port: bound,
    server,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.close((error) => (error ? fail(error) : ok()))
        server.closeAllConnections()
      }),
  }
}
