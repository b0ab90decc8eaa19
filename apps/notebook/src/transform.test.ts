import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import { isComplete } from './complete'
import { CellSyntaxError, RUNTIME, transformCell } from './transform'

/** Runs transformed cells one after another in a fresh context with a stub runtime, like the kernel does. */
function session() {
  const ticks = { count: 0 }
  const modules: Record<string, Record<string, unknown>> = { lib: { default: 'D', named: 'N' } }
  const context = vm.createContext({
    [RUNTIME]: {
      aw: (v: unknown) => v,
      tick: () => ticks.count++,
      import: async (s: string) => modules[s],
      defaultOf: (ns: Record<string, unknown>) => ns.default,
      member: (ns: Record<string, unknown>, _s: string, name: string) => ns[name],
    },
  })
  const run = async (source: string) => {
    const cell = transformCell(source, 'cell[1]')
    for (const name of cell.declared) if (!(name in context)) context[name] = undefined
    const fn = vm.runInContext(cell.code, context) as () => Promise<unknown>
    return { cell, value: await fn() }
  }
  return { run, ticks, context }
}

describe('transformCell', () => {
  it('makes top-level declarations outlive the cell and lets later cells redefine them', async () => {
    const s = session()
    await s.run('const a: number = 1\nlet { b, c: [d] } = { b: 2, c: [3] }\nvar e\nfunction f(x: number) { return x + a }\nclass K { v = 5 }\nenum Color { Red, Green }')
    expect((await s.run('[a, b, d, e, f(1), new K().v, Color.Green]')).value).toEqual([1, 2, 3, undefined, 2, 5, 1])
    await s.run('const a = "again"\nfunction f() { return "new f" }')
    expect((await s.run('[a, f()]')).value).toEqual(['again', 'new f'])
  })
  it('hoists functions within the cell and returns the last expression only', async () => {
    const s = session()
    const { cell, value } = await s.run('const r = g()\nfunction g() { return 7 }\nr * 2')
    expect(value).toBe(14)
    expect(cell.hasResult).toBe(true)
    expect((await s.run('const x = 1')).cell.hasResult).toBe(false)
    expect((await s.run('if (true) { 5 }')).cell.hasResult).toBe(false)
  })
  it('turns imports into bindings of the runtime import, keeping type-only imports out', async () => {
    const s = session()
    const { cell, value } = await s.run('import d, { named as n, type T } from "lib"\nimport * as ns from "lib"\nimport type { U } from "other"\n;[d, n, ns.named]')
    expect(value).toEqual(['D', 'N', 'N'])
    expect(cell.imports).toEqual([
      { local: 'd', module: 'lib', imported: 'default' },
      { local: 'n', module: 'lib', imported: 'named' },
      { local: 'ns', module: 'lib', imported: '*' },
    ])
  })
  it('routes every await through the runtime and puts an interruption check in every loop', () => {
    const { code } = transformCell('const v = await f(await g())\nwhile (x) y()\nfor (const i of xs) { z(i) }\ndo {} while (false)', 'c')
    expect(code).toContain(`await ${RUNTIME}.aw(f(await ${RUNTIME}.aw(g())))`)
    expect(code.match(new RegExp(`${RUNTIME}\\.tick\\(\\)`, 'g'))?.length).toBe(3)
  })
  it('counts loop iterations through tick', async () => {
    const s = session()
    await s.run('let n = 0\nfor (let i = 0; i < 5; i++) n += i')
    expect(s.ticks.count).toBe(5)
  })
  it('keeps line numbers: a generated line maps back to the TypeScript line', () => {
    const cell = transformCell('interface A {\n  x: number\n}\ntype B = string\nconst y = 1\nthrow new Error("here")', 'c')
    const lines = cell.code.split('\n')
    const generated = lines.findIndex((l) => l.includes('throw new Error')) + 1
    expect(cell.originalLine(generated)).toBe(6)
  })
  it('shows `{ a: 1 }` alone as an object, and still runs blocks', async () => {
    const s = session()
    expect((await s.run('{ a: 1, b: [2] }')).value).toEqual({ a: 1, b: [2] })
    expect((await s.run('{ const inner = 1; globalThis.seen = inner }')).cell.hasResult).toBe(false)
  })
  it('throws a CellSyntaxError with line and column', () => {
    expect(() => transformCell('const a = 1\nconst = 2', 'c')).toThrow(CellSyntaxError)
    try {
      transformCell('const a = 1\nconst = 2', 'c')
    } catch (error) {
      expect(error).toMatchObject({ line: 2, name: 'SyntaxError' })
    }
  })
})

describe('isComplete', () => {
  it('tells complete, incomplete and invalid code apart', () => {
    expect(isComplete('const x = 1')).toEqual({ status: 'complete' })
    expect(isComplete('')).toEqual({ status: 'complete' })
    expect(isComplete('for (const x of xs) {\n  f(x)')).toEqual({ status: 'incomplete', indent: '  ' })
    expect(isComplete('const s = `abc')).toMatchObject({ status: 'incomplete' })
    expect(isComplete('f(1, ')).toMatchObject({ status: 'incomplete' })
    expect(isComplete('const = = 1')).toEqual({ status: 'invalid' })
    expect(isComplete(')')).toEqual({ status: 'invalid' })
    expect(isComplete('/* open comment')).toMatchObject({ status: 'incomplete' })
  })
})
