import ts from 'typescript'

/** The `is_complete_reply` content. */
export interface IsCompleteReply {
  status: 'complete' | 'incomplete' | 'invalid'
  indent?: string
}

/**
 * Tells a console front end whether a cell is finished (run it), unfinished (wait for more lines,
 * with the indent to use), or broken beyond what more lines could fix.
 *
 * @param code - the code typed so far
 * @returns the status (and indent when incomplete)
 * @example
 * ```ts
 * isComplete('function f() {') // { status: 'incomplete', indent: '  ' }
 * ```
 */
export function isComplete(code: string): IsCompleteReply {
  if (code.trim() === '') return { status: 'complete' }
  const file = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS)
  const diagnostics = (file as unknown as { parseDiagnostics: ts.DiagnosticWithLocation[] }).parseDiagnostics ?? []
  if (diagnostics.length === 0) return { status: 'complete' }
  const end = code.trimEnd().length
  // More lines can only fix errors at the very end, or a string, template or comment still open.
  const unfinished = diagnostics.every((d) => d.start >= end || /^Unterminated/.test(ts.flattenDiagnosticMessageText(d.messageText, '\n')))
  if (!unfinished) return { status: 'invalid' }
  const lastLine = code.trimEnd().split('\n').at(-1) ?? ''
  const base = /^\s*/.exec(lastLine)?.[0] ?? ''
  return { status: 'incomplete', indent: /[{([]\s*$/.test(lastLine) ? `${base}  ` : base }
}
