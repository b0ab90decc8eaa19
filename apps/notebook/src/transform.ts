import ts from 'typescript'

/** A cell turned into a script the kernel can run. */
export interface TransformedCell {
  /** JavaScript that evaluates to an async function running the cell. */
  code: string
  /** Top-level names the cell declares (they become globals, so later cells see them). */
  declared: string[]
  /** Whether the cell ends in an expression whose value is its result. */
  hasResult: boolean
  /** Bindings made by `import` statements: local name, module specifier, imported name (`*` for a namespace). */
  imports: { local: string; module: string; imported: string }[]
  /** Maps a 1-based line of `code` to the 1-based line of the cell it came from. */
  originalLine(line: number): number
}

/**
 * A syntax error in a cell, with its 1-based line and column.
 *
 * @example
 * ```ts
 * try { transformCell('const = 1') } catch (e) { if (e instanceof CellSyntaxError) console.log(e.line, e.column) }
 * ```
 */
export class CellSyntaxError extends SyntaxError {
  override readonly name = 'SyntaxError'
  readonly line: number
  readonly column: number
  constructor(message: string, line: number, column: number) {
    super(`${message} (line ${line}, column ${column})`)
    this.line = line
    this.column = column
  }
}

/** The name under which the kernel's helpers are reachable from transformed code. */
export const RUNTIME = '__unet'

interface Edit {
  pos: number
  end: number
  text: string
  /** Orders edits at one position: higher ranks come first (outer openings, inner closings). */
  rank: number
}

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleDetection: ts.ModuleDetectionKind.Force,
  verbatimModuleSyntax: true,
  useDefineForClassFields: true,
  experimentalDecorators: false,
  sourceMap: true,
  removeComments: false,
}

/**
 * Transpiles one TypeScript cell and rewrites it so that its state outlives it: top-level
 * `const`/`let`/`var`/`function`/`class` and `import` bindings become globals (so a later cell may
 * use or redefine them), `import` becomes a dynamic import, top-level `await` works, every `await`
 * and loop can be interrupted, and the last expression is returned as the cell's result.
 *
 * @param source - the cell's TypeScript source
 * @param cellName - the file name shown in tracebacks, e.g. `cell[3]`
 * @returns the script and what it declares
 * @throws CellSyntaxError when the cell does not parse
 * @example
 * ```ts
 * const cell = transformCell('const x = 1\nx + 1', 'cell[1]')
 * cell.declared // ['x']
 * ```
 */
export function transformCell(source: string, cellName = 'cell'): TransformedCell {
  // As in Node's REPL, `{ a: 1 }` alone is an object to show, not a block with a label.
  if (/^\s*\{[\s\S]*\}\s*$/.test(source)) {
    try {
      return transformSource(`(${source.trim()})`, cellName)
    } catch {
      // A real block.
    }
  }
  return transformSource(source, cellName)
}

function transformSource(source: string, cellName: string): TransformedCell {
  const out = ts.transpileModule(source, { compilerOptions, fileName: `${cellName}.ts`, reportDiagnostics: true })
  const error = out.diagnostics?.find((d) => d.category === ts.DiagnosticCategory.Error)
  if (error) {
    const { line, character } = error.file && error.start !== undefined ? error.file.getLineAndCharacterOfPosition(error.start) : { line: 0, character: 0 }
    throw new CellSyntaxError(ts.flattenDiagnosticMessageText(error.messageText, '\n'), line + 1, character + 1)
  }
  const js = out.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n')
  const lineMap = decodeLineMap(out.sourceMapText ?? '')
  const rewritten = rewrite(js)
  return {
    ...rewritten,
    originalLine: (line) => (lineMap[line - 1] ?? line - 1) + 1,
  }
}

function rewrite(js: string): Omit<TransformedCell, 'originalLine'> {
  const file = ts.createSourceFile('cell.js', js, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS)
  const edits: Edit[] = []
  const declared = new Set<string>()
  const hoisted: string[] = []
  const imports: TransformedCell['imports'] = []
  let hasResult = false
  let importCount = 0

  const insert = (pos: number, text: string, rank: number): void => {
    edits.push({ pos, end: pos, text, rank })
  }
  const replace = (node: ts.Node | { getStart(): number; end: number }, text: string): void => {
    edits.push({ pos: node.getStart(file), end: node.end, text, rank: 0 })
  }

  // Interruption points and dynamic imports, at any depth.
  const visit = (node: ts.Node, depth: number): void => {
    if (ts.isAwaitExpression(node)) {
      insert(node.expression.getStart(file), `${RUNTIME}.aw(`, 1000 - depth)
      insert(node.expression.end, ')', -1000 + depth)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      replace(node.expression, `${RUNTIME}.import`)
    } else if (ts.isIterationStatement(node, false)) {
      const body = node.statement
      if (ts.isBlock(body)) insert(body.getStart(file) + 1, `${RUNTIME}.tick();`, 0)
      else {
        insert(body.getStart(file), `{${RUNTIME}.tick();`, 1000 - depth)
        insert(body.end, '}', -1000 + depth)
      }
    }
    ts.forEachChild(node, (child) => visit(child, depth + 1))
  }

  const statements = file.statements
  // TypeScript appends `export {}` to keep a cell a module; it is not the cell's last statement.
  const lastIndex = statements.map((s) => !ts.isExportDeclaration(s)).lastIndexOf(true)
  statements.forEach((statement, index) => {
    const isLast = index === lastIndex
    if (ts.isImportDeclaration(statement)) {
      const spec = (statement.moduleSpecifier as ts.StringLiteral).text
      const tmp = `${RUNTIME}_m${importCount++}`
      const parts = [`const ${tmp} = await ${RUNTIME}.import(${JSON.stringify(spec)});`]
      const clause = statement.importClause
      if (clause && !clause.isTypeOnly) {
        if (clause.name) {
          declared.add(clause.name.text)
          imports.push({ local: clause.name.text, module: spec, imported: 'default' })
          parts.push(`${clause.name.text} = ${RUNTIME}.defaultOf(${tmp});`)
        }
        const bindings = clause.namedBindings
        if (bindings && ts.isNamespaceImport(bindings)) {
          declared.add(bindings.name.text)
          imports.push({ local: bindings.name.text, module: spec, imported: '*' })
          parts.push(`${bindings.name.text} = ${tmp};`)
        } else if (bindings) {
          for (const el of bindings.elements) {
            if (el.isTypeOnly) continue
            const imported = (el.propertyName ?? el.name).text
            declared.add(el.name.text)
            imports.push({ local: el.name.text, module: spec, imported })
            parts.push(`${el.name.text} = ${RUNTIME}.member(${tmp}, ${JSON.stringify(spec)}, ${JSON.stringify(imported)});`)
          }
        }
      }
      replace(statement, parts.join(' '))
      return
    }
    if (ts.isExportDeclaration(statement)) {
      replace(statement, ';')
      return
    }
    if (ts.isExportAssignment(statement)) {
      // `export default x` in a notebook means "show x".
      edits.push({ pos: statement.getStart(file), end: statement.expression.getStart(file), text: isLast ? 'return (' : ';(', rank: 0 })
      insert(statement.expression.end, ')', -5000)
      visit(statement.expression, 1)
      hasResult ||= isLast
      return
    }
    const exportKeyword = ts.canHaveModifiers(statement) ? ts.getModifiers(statement)?.find((m) => m.kind === ts.SyntaxKind.ExportKeyword) : undefined
    if (exportKeyword) edits.push({ pos: exportKeyword.getStart(file), end: exportKeyword.end, text: '', rank: 0 })

    if (ts.isVariableStatement(statement)) {
      const list = statement.declarationList
      const keyword = list.getFirstToken(file)!
      edits.push({ pos: keyword.getStart(file), end: keyword.end, text: ';(', rank: 0 })
      for (const decl of list.declarations) {
        collectNames(decl.name, declared)
        if (!decl.initializer) insert(decl.name.end, ' = void 0', 10)
        else visit(decl.initializer, 1)
      }
      insert(list.end, ')', -5000)
      return
    }
    if (ts.isFunctionDeclaration(statement) && statement.name) {
      declared.add(statement.name.text)
      hoisted.push(`globalThis[${JSON.stringify(statement.name.text)}] = ${statement.name.text};`)
      visit(statement, 0)
      return
    }
    if (ts.isClassDeclaration(statement) && statement.name) {
      declared.add(statement.name.text)
      insert(statement.getStart(file), `;${statement.name.text} = `, 5000)
      insert(statement.end, ';', -5000)
      visit(statement, 0)
      return
    }
    if (isLast && ts.isExpressionStatement(statement)) {
      hasResult = true
      insert(statement.expression.getStart(file), 'return (', 5000)
      insert(statement.expression.end, ')', -5000)
    }
    visit(statement, 0)
  })

  // Apply from the end so earlier positions stay valid.
  edits.sort((a, b) => b.pos - a.pos || a.rank - b.rank)
  let code = js
  for (const edit of edits) code = code.slice(0, edit.pos) + edit.text + code.slice(edit.end)
  // Everything the wrapper adds sits on the cell's first line, so line numbers survive.
  const prelude = `(async function () { "use strict"; ${hoisted.join(' ')} `
  return { code: `${prelude}${code}\n})`, declared: [...declared], hasResult, imports }
}

function collectNames(name: ts.BindingName, into: Set<string>): void {
  if (ts.isIdentifier(name)) into.add(name.text)
  else for (const el of name.elements) if (!ts.isOmittedExpression(el)) collectNames(el.name, into)
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** Generated line (0-based) → original line (0-based), from a source map's first segment on each line. */
function decodeLineMap(sourceMapText: string): number[] {
  if (!sourceMapText) return []
  const { mappings } = JSON.parse(sourceMapText) as { mappings: string }
  const map: number[] = []
  let originalLine = 0
  mappings.split(';').forEach((line, generatedLine) => {
    let first: number | undefined
    for (const segment of line.split(',')) {
      if (!segment) continue
      const fields = decodeVlq(segment)
      if (fields.length >= 4) {
        originalLine += fields[2]!
        first ??= originalLine
      }
    }
    map[generatedLine] = first ?? (generatedLine > 0 ? (map[generatedLine - 1] ?? 0) : 0)
  })
  return map
}

function decodeVlq(segment: string): number[] {
  const values: number[] = []
  let value = 0
  let shift = 0
  for (const ch of segment) {
    const digit = BASE64.indexOf(ch)
    value += (digit & 31) << shift
    if (digit & 32) shift += 5
    else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1)
      value = 0
      shift = 0
    }
  }
  return values
}
