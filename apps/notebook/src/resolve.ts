import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { createRequire, isBuiltin } from 'node:module'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { KernelError } from './errors'

/**
 * Imports a module for a notebook cell. Bare names are looked up first among the kernel's own
 * dependencies (so `@unet/*` and `@tensorflow/*` resolve to the one copy the toolkit uses), then from
 * the notebook's working directory upwards; relative paths are taken from the working directory.
 *
 * @param specifier - what the cell imports, e.g. `@unet/layers`, `./helpers.ts`, `node:fs`
 * @param cwd - the notebook's working directory
 * @returns the module namespace
 * @throws KernelError `MODULE_NOT_FOUND` naming the places searched
 * @example
 * ```ts
 * const layers = await importForNotebook('@unet/layers', process.cwd())
 * ```
 */
export async function importForNotebook(specifier: string, cwd: string): Promise<Record<string, unknown>> {
  if (isBuiltin(specifier)) return (await import(specifier)) as Record<string, unknown>
  if (specifier.startsWith('file:')) return (await import(specifier)) as Record<string, unknown>
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    return (await import(pathToFileURL(resolve(cwd, specifier)).href)) as Record<string, unknown>
  }
  try {
    return (await import(specifier)) as Record<string, unknown>
  } catch (error) {
    if (!isNotFound(error, specifier)) throw error
  }
  const file = resolveFrom(specifier, cwd)
  if (file) return (await import(pathToFileURL(file).href)) as Record<string, unknown>
  throw new KernelError(
    'MODULE_NOT_FOUND',
    `cannot find module "${specifier}" among the kernel's packages (${kernelModulesDir()}) or from the notebook folder ${cwd}; install it there (npm install ${packageName(specifier)})`,
  )
}

function isNotFound(error: unknown, specifier: string): boolean {
  const code = (error as { code?: string }).code
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes(packageName(specifier))
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier)
}

function resolveFrom(specifier: string, cwd: string): string | undefined {
  try {
    return createRequire(join(cwd, '__notebook__.js')).resolve(specifier)
  } catch {
    // An ESM-only package has no "require" condition; read its exports by hand.
  }
  const name = packageName(specifier)
  const sub = specifier.slice(name.length) || '.'
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', name)
    if (existsSync(join(pkgDir, 'package.json'))) {
      const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { exports?: unknown; module?: string; main?: string }
      const target = exportTarget(pkg.exports, sub.startsWith('.') ? sub : `.${sub}`) ?? (sub === '.' ? (pkg.module ?? pkg.main ?? 'index.js') : sub)
      return join(pkgDir, target)
    }
    if (dirname(dir) === dir) return undefined
  }
}

function exportTarget(exports: unknown, sub: string): string | undefined {
  if (typeof exports === 'string') return sub === '.' ? exports : undefined
  if (!exports || typeof exports !== 'object') return undefined
  const map = exports as Record<string, unknown>
  const entry = Object.keys(map).some((k) => k.startsWith('.')) ? map[sub] : sub === '.' ? map : undefined
  return pickCondition(entry)
}

function pickCondition(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry
  if (!entry || typeof entry !== 'object') return undefined
  const conditions = entry as Record<string, unknown>
  for (const key of ['node', 'import', 'default']) {
    const found = pickCondition(conditions[key])
    if (found) return found
  }
  return undefined
}

/** The node_modules folder the kernel's own dependencies live in. */
export function kernelModulesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return join(dir, 'node_modules')
}

/** The `@unet/*` packages the kernel can import, for completion of module names. */
export function unetPackages(): string[] {
  try {
    return readdirSync(join(kernelModulesDir(), '@unet')).map((n) => `@unet/${n}`)
  } catch {
    return []
  }
}

/**
 * The TSDoc comment and declaration of an export, read from the package's `.d.ts`, for `inspect_request`.
 *
 * @param specifier - the module the name was imported from
 * @param name - the exported name
 * @param cwd - the notebook's working directory
 * @returns the doc comment followed by the declaration line, or undefined
 * @example
 * ```ts
 * declarationDoc('@unet/layers', 'createUnet', process.cwd())
 * ```
 */
export function declarationDoc(specifier: string, name: string, cwd: string): string | undefined {
  const name0 = packageName(specifier)
  const candidates = [join(kernelModulesDir(), name0)]
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    candidates.push(join(dir, 'node_modules', name0))
    if (dirname(dir) === dir) break
  }
  for (const pkgDir of candidates) {
    const pkgFile = join(pkgDir, 'package.json')
    if (!existsSync(pkgFile)) continue
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { types?: string; typings?: string; exports?: unknown }
    const types = typesEntry(pkg.exports) ?? pkg.types ?? pkg.typings
    if (!types || !existsSync(join(pkgDir, types))) continue
    const text = readFileSync(join(pkgDir, types), 'utf8')
    const escaped = name.replace(/[$]/g, '\\$')
    const re = new RegExp(`(/\\*\\*(?:(?!\\*/)[\\s\\S])*\\*/)\\s*(?:export\\s+)?(?:declare\\s+)?(function|const|class|interface|type|let)\\s+${escaped}\\b([^\\n]*)`)
    const match = re.exec(text)
    if (match) {
      const doc = match[1]!.replace(/^\/\*\*\s?|\s*\*\/$/g, '').split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n').trim()
      return `${match[2]} ${name}${match[3]}\n\n${doc}`
    }
  }
  return undefined
}

function typesEntry(exports: unknown): string | undefined {
  if (!exports || typeof exports !== 'object') return undefined
  const root = (exports as Record<string, unknown>)['.'] ?? exports
  const find = (entry: unknown): string | undefined => {
    if (!entry || typeof entry !== 'object') return undefined
    const e = entry as Record<string, unknown>
    if (typeof e.types === 'string') return e.types
    for (const key of ['import', 'default', 'require']) {
      const found = find(e[key])
      if (found) return found
    }
    return undefined
  }
  return find(root)
}
