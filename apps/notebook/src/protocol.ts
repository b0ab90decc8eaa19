/** A MIME bundle: MIME type → content (base64 for binary types). */
export type MimeBundle = Record<string, unknown>

/** Messages the kernel's main thread sends to the evaluator thread. */
export type ToEvaluator =
  | { type: 'execute'; id: number; code: string; count: number; userExpressions?: Record<string, string>; allowStdin?: boolean }
  | { type: 'input_reply'; id: number; value: string | undefined; error?: string }
  | { type: 'complete'; id: number; code: string; cursorPos: number }
  | { type: 'inspect'; id: number; code: string; cursorPos: number; detailLevel: number }
  | { type: 'interrupt'; id: number }
  | { type: 'ping'; id: number }
  | { type: 'is_complete'; id: number; code: string }

/** The outcome of running a cell. */
export type ExecuteOutcome =
  | { status: 'ok'; data?: MimeBundle; metadata?: Record<string, unknown>; userExpressions?: Record<string, unknown> }
  | { status: 'error'; ename: string; evalue: string; traceback: string[] }

/** Messages the evaluator thread sends back. */
export type FromEvaluator =
  | { type: 'ready' }
  | { type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { type: 'display'; data: MimeBundle; metadata: Record<string, unknown>; displayId?: string; update: boolean }
  | { type: 'clear'; wait: boolean }
  | { type: 'input_request'; id: number; prompt: string; password: boolean }
  | { type: 'reply'; id: number; content: unknown }

/** Layout of the shared flags between the two threads (an Int32Array over a SharedArrayBuffer). */
export const FLAG_INTERRUPT = 0
/** Incremented by the evaluator's event loop; a stalled value means a cell is blocking it. */
export const FLAG_ALIVE = 1
