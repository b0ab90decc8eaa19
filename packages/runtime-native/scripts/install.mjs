#!/usr/bin/env node
// Builds the oneDNN addon (build/Release/dnnl_conv.node) when this machine can, and otherwise says in one
// line why the native accelerator is off. As the package's `install` script it always exits 0: a machine
// without oneDNN or a compiler still installs, and @unet/runtime keeps using its wasm kernels there.
//
//   node scripts/install.mjs            what `pnpm install` runs: build if possible, skip an up-to-date addon
//   node scripts/install.mjs --force    rebuild even if up to date
//   node scripts/install.mjs --strict   exit 1 when the addon cannot be built (the build:native script)
//
// Environment: UNET_NATIVE=0 or UNET_NATIVE_SKIP_BUILD=1 skip the build; UNET_DNNL_INCLUDE=DIR names the
// folder holding dnnl.hpp (default: pkg-config dnnl, $DNNLROOT/include, /usr/include, /usr/local/include);
// CXX names the C++ compiler (default c++, then g++, then clang++).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const addonPath = join(root, 'build', 'Release', 'dnnl_conv.node')
const source = join(root, 'src', 'dnnl_conv.cc')
const logPath = join(root, 'build', 'install.log')
const args = new Set(process.argv.slice(2))
const strict = args.has('--strict')
const env = process.env
const PREFIX = '@unet/runtime-native:'

class Skip extends Error {}

function off(why) {
  console.log(`${PREFIX} native accelerator off — ${why}; @unet/runtime will use its wasm kernels. See this package's README to turn it on.`)
  process.exit(strict ? 1 : 0)
}

function run(command, argv, options = {}) {
  return spawnSync(command, argv, { encoding: 'utf8', timeout: 10 * 60_000, ...options })
}

/** The folder holding dnnl.hpp, or undefined. */
function findDnnlInclude() {
  if (env.UNET_DNNL_INCLUDE !== undefined) return existsSync(join(env.UNET_DNNL_INCLUDE, 'dnnl.hpp')) ? env.UNET_DNNL_INCLUDE : undefined
  const candidates = []
  const pc = run('pkg-config', ['--variable=includedir', 'dnnl'])
  if (pc.status === 0 && pc.stdout.trim() !== '') candidates.push(pc.stdout.trim())
  if (env.DNNLROOT) candidates.push(join(env.DNNLROOT, 'include'))
  candidates.push('/usr/include', '/usr/local/include', '/opt/homebrew/include')
  return candidates.find((dir) => existsSync(join(dir, 'dnnl.hpp')))
}

/** Node's own headers (node_api.h) on disk: never downloaded. */
function findNodeDir() {
  const prefix = process.config?.variables?.node_prefix
  const candidates = [prefix, join(dirname(process.execPath), '..'), '/usr', '/usr/local'].filter(Boolean)
  return candidates.find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')))
}

function findCompiler() {
  const names = env.CXX ? [env.CXX] : ['c++', 'g++', 'clang++']
  return names.find((name) => run(name, ['--version']).status === 0)
}

/** node-gyp as npm (or pnpm) ships it, or undefined. */
function findNodeGyp() {
  const candidates = [
    env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ].filter(Boolean)
  const found = candidates.find((path) => existsSync(path))
  if (found) return found
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')
  } catch {
    return undefined
  }
}

function upToDate() {
  if (!existsSync(addonPath)) return false
  const built = statSync(addonPath).mtimeMs
  return [source, join(root, 'binding.gyp')].every((file) => statSync(file).mtimeMs <= built)
}

function build(include, nodeDir, compiler) {
  const log = []
  const gyp = findNodeGyp()
  if (gyp) {
    const r = run(process.execPath, [gyp, 'rebuild', `--nodedir=${nodeDir}`], {
      cwd: root,
      env: { ...env, CXX: compiler, CXXFLAGS: `${env.CXXFLAGS ?? ''} -I${include}`.trim() },
    })
    log.push(`$ node ${gyp} rebuild --nodedir=${nodeDir}`, r.stdout ?? '', r.stderr ?? '', String(r.error ?? ''))
    if (r.status === 0 && existsSync(addonPath)) return { ok: true, how: 'node-gyp' }
  }
  // Without node-gyp (or if it failed): one compiler call, the same flags as binding.gyp.
  mkdirSync(dirname(addonPath), { recursive: true })
  const argv = ['-O2', '-std=c++17', '-fPIC', '-shared', '-fopenmp', '-fexceptions', '-DNODE_GYP_MODULE_NAME=dnnl_conv',
    `-I${join(nodeDir, 'include', 'node')}`, `-I${include}`, source, '-ldnnl', '-o', addonPath]
  const r = run(compiler, argv, { cwd: root })
  log.push(`$ ${compiler} ${argv.join(' ')}`, r.stdout ?? '', r.stderr ?? '', String(r.error ?? ''))
  if (r.status === 0 && existsSync(addonPath)) return { ok: true, how: compiler }
  mkdirSync(dirname(logPath), { recursive: true })
  writeFileSync(logPath, log.join('\n'))
  return { ok: false }
}

try {
  if (env.UNET_NATIVE === '0') throw new Skip('UNET_NATIVE=0')
  if (env.UNET_NATIVE_SKIP_BUILD === '1') throw new Skip('UNET_NATIVE_SKIP_BUILD=1')
  if (!args.has('--force') && upToDate()) {
    console.log(`${PREFIX} oneDNN addon already built (build/Release/dnnl_conv.node)`)
    process.exit(0)
  }
  const include = findDnnlInclude()
  if (!include) {
    throw new Skip(
      env.UNET_DNNL_INCLUDE !== undefined
        ? `no dnnl.hpp in UNET_DNNL_INCLUDE=${env.UNET_DNNL_INCLUDE}`
        : 'oneDNN headers not found (Debian/Ubuntu: apt-get install libdnnl-dev)',
    )
  }
  const compiler = findCompiler()
  if (!compiler) throw new Skip('no C++ compiler found (set CXX, or install g++)')
  const nodeDir = findNodeDir()
  if (!nodeDir) throw new Skip(`Node's headers (include/node/node_api.h) not found next to ${process.execPath}`)
  rmSync(addonPath, { force: true })
  const result = build(include, nodeDir, compiler)
  if (!result.ok) throw new Skip(`the addon did not compile (log: ${logPath})`)
  // Loading it proves libdnnl is there at run time too, not only its headers.
  try {
    createRequire(import.meta.url)(addonPath)
  } catch (error) {
    rmSync(addonPath, { force: true })
    throw new Skip(`the addon built but does not load (${String(error?.message ?? error).split('\n')[0]})`)
  }
  console.log(`${PREFIX} oneDNN conv addon built with ${result.how} (build/Release/dnnl_conv.node)`)
} catch (error) {
  off(error instanceof Skip ? error.message : `unexpected error (${String(error?.message ?? error).split('\n')[0]})`)
}
