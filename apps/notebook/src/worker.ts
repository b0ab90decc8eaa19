// The evaluator thread: owns the notebook's global scope and runs cells in it.
import { parentPort, workerData } from 'node:worker_threads'
import { isComplete } from './complete'
import { Evaluator } from './executor'
import type { FromEvaluator, ToEvaluator } from './protocol'

const port = parentPort!
const { flags, cwd } = workerData as { flags: SharedArrayBuffer; cwd: string }
const post = (message: FromEvaluator): void => port.postMessage(message)
const evaluator = new Evaluator(post, new Int32Array(flags), cwd)
evaluator.install()

// The last cell's outcome, sent again if an interrupt asks about it: a termination aimed at the
// cell can, when the cell ends just then, hit the code that was sending its reply instead.
let last: { id: number; content: unknown } | undefined

port.on('message', (message: ToEvaluator) => {
  switch (message.type) {
    case 'execute':
      void evaluator
        .execute(message.id, message.code, message.count, { userExpressions: message.userExpressions ?? {}, allowStdin: message.allowStdin === true })
        .then((content) => {
          last = { id: message.id, content }
          post({ type: 'reply', id: message.id, content })
        })
      break
    case 'is_complete':
      post({ type: 'reply', id: message.id, content: isComplete(message.code) })
      break
    case 'ping':
      post({ type: 'reply', id: message.id, content: 'pong' })
      break
    case 'input_reply':
      evaluator.inputReply(message.id, message.value, message.error)
      break
    case 'interrupt':
      void evaluator.interrupt(message.id).then((content) => {
        if (content) post({ type: 'reply', id: message.id, content })
        else if (last?.id === message.id) post({ type: 'reply', id: message.id, content: last.content })
      })
      break
    case 'complete':
      void evaluator
        .complete(message.code, message.cursorPos)
        .catch(() => ({ status: 'ok', matches: [], cursor_start: message.cursorPos, cursor_end: message.cursorPos, metadata: {} }))
        .then((content) => post({ type: 'reply', id: message.id, content }))
      break
    case 'inspect': {
      let content: unknown
      try {
        content = evaluator.inspect(message.code, message.cursorPos, message.detailLevel)
      } catch {
        content = { status: 'ok', found: false, data: {}, metadata: {} }
      }
      post({ type: 'reply', id: message.id, content })
      break
    }
  }
})
post({ type: 'ready' })
