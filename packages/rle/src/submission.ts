import { CsvReader, type CsvRecord, CsvSyntaxError, csvField } from './csv'
import { readRuns } from './decode'
import { RleError } from './errors'
import { type MaskShape, pixelCount } from './shape'
import { SubmissionError } from './submission-error'

/** One line of a submission: an image id and its mask as an RLE string (`''` for an empty mask). */
export interface SubmissionRow {
  /** The image id, e.g. `'0a1742c740'` for TGS Salt. */
  readonly id: string
  /** The mask, run-length encoded (see `encode`); `''` for an empty mask. */
  readonly rleMask: string
}

/**
 * Ids of the Kaggle TGS Salt challenge: 10 lowercase hex characters. Pass it as `idPattern` to enforce it.
 *
 * @example
 * ```ts
 * import { parseSubmission, TGS_ID_PATTERN } from '@unet/rle'
 * parseSubmission('id,rle_mask\n0a1742c740,1 5\n', { idPattern: TGS_ID_PATTERN })
 * ```
 */
export const TGS_ID_PATTERN: RegExp = /^[0-9a-f]{10}$/

/** Options for reading and writing submissions. */
export interface SubmissionOptions {
  /** The header's two column names; `['id', 'rle_mask']` (Kaggle TGS) when left out. Carvana uses `['img', 'rle_mask']`. */
  readonly columns?: readonly [string, string]
  /** A rule every id must also match, e.g. {@link TGS_ID_PATTERN}. */
  readonly idPattern?: RegExp
  /**
   * The mask shape, to check every RLE string against it (runs past the end are refused). When left out, every
   * other RLE rule is still checked.
   */
  readonly shape?: MaskShape
  /** `false` skips the RLE checks (ids and duplicates are always checked). Default `true`. */
  readonly validateRle?: boolean
}

/** Options for writing submissions. */
export interface FormatSubmissionOptions extends SubmissionOptions {
  /** Line end; `'\n'` when left out. RFC 4180 prefers `'\r\n'`; Kaggle accepts both. */
  readonly lineEnding?: '\n' | '\r\n'
}

/** Options for streaming submissions out. */
export interface SubmissionChunksOptions extends FormatSubmissionOptions {
  /** Roughly how many characters each chunk holds; 65536 when left out. */
  readonly chunkSize?: number
}

/** Options for reading submissions. */
export interface ParseSubmissionOptions extends SubmissionOptions {
  /** A name for the text in error messages, e.g. the file path. */
  readonly source?: string
}

const DEFAULT_COLUMNS: readonly [string, string] = ['id', 'rle_mask']
// Control characters would corrupt the CSV line structure or hide in file names.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

/** @internal Checks ids (format, duplicates) and RLE strings, for both directions. */
class RowChecker {
  private readonly seen = new Map<string, number>()
  private readonly pixels: number
  private readonly checkRle: boolean

  constructor(
    private readonly options: SubmissionOptions,
    private readonly where: (line: number) => string,
  ) {
    this.pixels = options.shape === undefined ? Number.POSITIVE_INFINITY : pixelCount(options.shape)
    this.checkRle = options.validateRle !== false
  }

  check(id: unknown, rleMask: unknown, line: number): void {
    const at = this.where(line)
    if (typeof id !== 'string') {
      throw new SubmissionError('INVALID_ID', `${at}: the id must be a string, got ${typeof id}.`, { line })
    }
    let problem = ''
    if (id === '') problem = 'is empty'
    else if (id.trim() !== id) problem = 'has leading or trailing whitespace'
    else if (CONTROL.test(id)) problem = 'contains a control character (line break, tab, …)'
    else if (this.options.idPattern !== undefined) {
      this.options.idPattern.lastIndex = 0
      if (!this.options.idPattern.test(id)) problem = `does not match ${String(this.options.idPattern)}`
    }
    if (problem !== '') {
      throw new SubmissionError('INVALID_ID', `${at}: id ${JSON.stringify(id)} ${problem}; fix the id.`, { line, id })
    }
    const first = this.seen.get(id)
    if (first !== undefined) {
      throw new SubmissionError(
        'DUPLICATE_ID',
        `${at}: id ${JSON.stringify(id)} appeared already (${this.where(first)}); each image must appear once.`,
        { line, id },
      )
    }
    this.seen.set(id, line)
    if (typeof rleMask !== 'string') {
      throw new SubmissionError(
        'INVALID_ROW',
        `${at}: rleMask of id ${JSON.stringify(id)} must be a string (use '' for an empty mask), got ${typeof rleMask}.`,
        { line, id },
      )
    }
    if (this.checkRle) {
      try {
        readRuns(rleMask, this.pixels)
      } catch (error) {
        if (!(error instanceof RleError)) throw error
        throw new SubmissionError('INVALID_RLE', `${at}: the RLE mask of id ${JSON.stringify(id)} is malformed: ${error.message}`, {
          line,
          id,
          cause: error,
        })
      }
    }
  }
}

/** @internal Turns rows into CSV lines, checking them. */
export class SubmissionFormatter {
  private readonly checker: RowChecker
  private readonly eol: string
  private readonly columns: readonly [string, string]
  /** Rows formatted so far. */
  count = 0

  constructor(options: FormatSubmissionOptions) {
    this.checker = new RowChecker(options, (row) => `submission row ${row}`)
    this.eol = options.lineEnding ?? '\n'
    if (this.eol !== '\n' && this.eol !== '\r\n') {
      throw new SubmissionError('INVALID_ROW', `lineEnding must be '\\n' or '\\r\\n', got ${JSON.stringify(this.eol)}.`)
    }
    this.columns = options.columns ?? DEFAULT_COLUMNS
  }

  header(): string {
    return csvField(this.columns[0]) + ',' + csvField(this.columns[1]) + this.eol
  }

  row(row: SubmissionRow): string {
    const line = ++this.count
    if (row === null || typeof row !== 'object') {
      throw new SubmissionError('INVALID_ROW', `submission row ${line}: expected { id, rleMask }, got ${row === null ? 'null' : typeof row}.`, {
        line,
      })
    }
    this.checker.check(row.id, row.rleMask, line)
    return csvField(row.id) + ',' + csvField(row.rleMask) + this.eol
  }
}

/** @internal Turns CSV records into rows, checking them. */
export class SubmissionParser {
  private readonly csv = new CsvReader()
  private readonly checker: RowChecker
  private readonly columns: readonly [string, string]
  private readonly source: string
  private sawHeader = false

  constructor(options: ParseSubmissionOptions) {
    this.source = options.source ?? 'submission'
    this.checker = new RowChecker(options, (line) => `${this.source} line ${line}`)
    this.columns = options.columns ?? DEFAULT_COLUMNS
  }

  /** Yields the rows that `text` completes; rows ahead of a bad line are yielded before the error. */
  *push(text: string): Generator<SubmissionRow, void, undefined> {
    const records: CsvRecord[] = []
    let syntax: unknown
    try {
      this.csv.push(text, records)
    } catch (error) {
      syntax = error
    }
    yield* this.rows(records)
    if (syntax !== undefined) throw this.wrap(syntax)
  }

  /** Yields the last row, if the text did not end with a line end, and checks the text was not empty. */
  *end(): Generator<SubmissionRow, void, undefined> {
    let records: CsvRecord[]
    try {
      records = this.csv.end()
    } catch (error) {
      throw this.wrap(error)
    }
    yield* this.rows(records)
    if (!this.sawHeader) {
      throw new SubmissionError(
        'INVALID_HEADER',
        `${this.source} is empty: a submission starts with the header '${this.columns.join(',')}'.`,
      )
    }
  }

  private wrap(error: unknown): unknown {
    if (!(error instanceof CsvSyntaxError)) return error
    return new SubmissionError(error.problem, `${this.source} line ${error.line}: ${error.message}.`, {
      line: error.line,
      cause: error,
    })
  }

  private *rows(records: CsvRecord[]): Generator<SubmissionRow, void, undefined> {
    for (const { fields, line } of records) {
      if (!this.sawHeader) {
        this.sawHeader = true
        if (fields.length !== 2 || fields[0] !== this.columns[0] || fields[1] !== this.columns[1]) {
          throw new SubmissionError(
            'INVALID_HEADER',
            `${this.source} line ${line}: expected the header '${this.columns.join(',')}', found '${fields.join(',')}'. ` +
              `Pass { columns } if this file uses other column names.`,
            { line },
          )
        }
        continue
      }
      if (fields.length !== 2) {
        throw new SubmissionError(
          'WRONG_FIELD_COUNT',
          `${this.source} line ${line}: expected 2 fields (id, rle mask), found ${fields.length}. ` +
            `A field holding a comma must be quoted.`,
          { line, id: fields[0] },
        )
      }
      const [id, rleMask] = fields as [string, string]
      this.checker.check(id, rleMask, line)
      yield { id, rleMask }
    }
  }
}

/**
 * Writes submission rows as CSV text: the header `id,rle_mask`, then one line per row, RFC 4180 quoting.
 * Ids are checked (non-empty, no surrounding whitespace or control characters, `idPattern` if given, no
 * duplicates) and so are the RLE strings.
 *
 * @param rows - the rows, in the order they should appear
 * @param options - header column names, id pattern, mask shape, line ending
 * @returns the whole CSV text, ending with a line end
 * @throws {@link SubmissionError} `INVALID_ID`, `DUPLICATE_ID`, `INVALID_RLE`, `INVALID_ROW`
 *
 * @example
 * ```ts
 * import { encode, formatSubmission } from '@unet/rle'
 * const shape = { height: 2, width: 2 }
 * formatSubmission([
 *   { id: 'a', rleMask: encode([1, 0, 1, 0], shape) },
 *   { id: 'b', rleMask: '' },
 * ]) // 'id,rle_mask\na,1 2\nb,\n'
 * ```
 */
export function formatSubmission(rows: Iterable<SubmissionRow>, options: FormatSubmissionOptions = {}): string {
  const formatter = new SubmissionFormatter(options)
  let out = formatter.header()
  for (const row of rows) out += formatter.row(row)
  return out
}

/**
 * Streams submission rows as CSV text in chunks of about `chunkSize` characters, checking them as
 * {@link formatSubmission} does. Works anywhere (no file system); pipe the chunks wherever they go.
 *
 * @param rows - the rows, sync or async (e.g. produced while predicting)
 * @param options - as {@link formatSubmission}, plus `chunkSize` (characters per chunk, default 65536)
 * @returns an async iterable of CSV text chunks, the first starting with the header
 * @throws {@link SubmissionError} from the iteration, at the first bad row
 *
 * @example
 * ```ts
 * import { submissionChunks } from '@unet/rle'
 * let csv = ''
 * for await (const chunk of submissionChunks([{ id: 'a', rleMask: '1 2' }])) csv += chunk
 * // csv === 'id,rle_mask\na,1 2\n'
 * ```
 */
export async function* submissionChunks(
  rows: Iterable<SubmissionRow> | AsyncIterable<SubmissionRow>,
  options: SubmissionChunksOptions = {},
): AsyncGenerator<string, void, undefined> {
  const formatter = new SubmissionFormatter(options)
  const chunkSize = options.chunkSize ?? 65536
  let buffer = formatter.header()
  for await (const row of rows) {
    buffer += formatter.row(row)
    if (buffer.length >= chunkSize) {
      yield buffer
      buffer = ''
    }
  }
  yield buffer
}

/**
 * Reads a submission from CSV text: checks the header, the RFC 4180 syntax, the ids (format, duplicates) and
 * the RLE strings, and returns the rows.
 *
 * @param text - the CSV text (LF or CRLF line ends; a byte-order mark is ignored)
 * @param options - header column names, id pattern, mask shape, `source` name for messages
 * @returns the rows in file order
 * @throws {@link SubmissionError} with the line: `INVALID_HEADER`, `WRONG_FIELD_COUNT`, `BAD_QUOTE`,
 *   `UNTERMINATED_QUOTE`, `INVALID_ID`, `DUPLICATE_ID`, `INVALID_RLE`
 *
 * @example
 * ```ts
 * import { decode, parseSubmission } from '@unet/rle'
 * const rows = parseSubmission('id,rle_mask\na,1 2\nb,\n')
 * // [{ id: 'a', rleMask: '1 2' }, { id: 'b', rleMask: '' }]
 * const mask = decode(rows[0].rleMask, { height: 2, width: 2 }) // Uint8Array [1, 0, 1, 0]
 * ```
 */
export function parseSubmission(text: string, options: ParseSubmissionOptions = {}): SubmissionRow[] {
  const parser = new SubmissionParser(options)
  return [...parser.push(text), ...parser.end()]
}

/** Text or bytes (UTF-8) arriving in pieces: a Node stream, a fetch body, a generator. */
export type SubmissionSource =
  | AsyncIterable<string | Uint8Array>
  | Iterable<string | Uint8Array>
  | ReadableStream<string | Uint8Array>

async function* piecesOf(source: SubmissionSource): AsyncGenerator<string | Uint8Array, void, undefined> {
  if (typeof (source as ReadableStream).getReader === 'function' && !(Symbol.asyncIterator in source)) {
    const reader = (source as ReadableStream<string | Uint8Array>).getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        yield value
      }
    } finally {
      reader.releaseLock()
    }
  }
  yield* source as AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>
}

/**
 * Reads a submission from text or bytes arriving in pieces, yielding rows as soon as their line is complete,
 * so a large file never has to sit in memory whole. Checks everything {@link parseSubmission} checks.
 *
 * @param source - chunks of UTF-8 bytes or text, in any sizes (a Node readable, a `ReadableStream`, a generator)
 * @param options - as {@link parseSubmission}
 * @returns an async iterable of rows in file order
 * @throws {@link SubmissionError} from the iteration, at the first bad line
 *
 * @example
 * ```ts
 * import { parseSubmissionChunks } from '@unet/rle'
 * for await (const row of parseSubmissionChunks(['id,rle_mask\na,', '1 2\n'])) {
 *   console.log(row.id, row.rleMask) // a 1 2
 * }
 * ```
 */
export async function* parseSubmissionChunks(
  source: SubmissionSource,
  options: ParseSubmissionOptions = {},
): AsyncGenerator<SubmissionRow, void, undefined> {
  const parser = new SubmissionParser(options)
  const source_ = options.source ?? 'submission'
  // fatal: a non-UTF-8 byte would otherwise become U+FFFD silently, and the id with it
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let line = 1
  for await (const piece of piecesOf(source)) {
    let text: string
    if (typeof piece === 'string') text = piece
    else {
      try {
        text = decoder.decode(piece, { stream: true })
      } catch (cause) {
        throw invalidUtf8(source_, line + newlinesBefore(piece, firstInvalidUtf8(piece)), cause)
      }
    }
    line += newlinesBefore(text, text.length)
    if (text !== '') yield* parser.push(text)
  }
  let rest: string
  try {
    rest = decoder.decode()
  } catch (cause) {
    throw invalidUtf8(source_, line, cause)
  }
  if (rest !== '') yield* parser.push(rest)
  yield* parser.end()
}

function invalidUtf8(source: string, line: number, cause: unknown): SubmissionError {
  return new SubmissionError(
    'INVALID_UTF8',
    `${source} line ${line}: not valid UTF-8, so its id cannot be read as written; save the file as UTF-8.`,
    { line, cause },
  )
}

function newlinesBefore(text: string | Uint8Array, end: number): number {
  let count = 0
  if (typeof text === 'string') {
    for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) count++
  } else {
    for (let i = 0; i < end; i++) if (text[i] === 0x0a) count++
  }
  return count
}

/** Offset of the first byte that cannot start or continue a UTF-8 sequence (the piece's length when none is found). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0
  // a piece may begin inside a character carried over from the previous one
  while (i < bytes.length && ((bytes[i] as number) & 0xc0) === 0x80 && i < 3) i++
  while (i < bytes.length) {
    const b = bytes[i] as number
    const extra = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1
    if (extra < 0) return i
    for (let k = 1; k <= extra; k++) {
      if (i + k >= bytes.length) return bytes.length
      if (((bytes[i + k] as number) & 0xc0) !== 0x80) return i
    }
    i += extra + 1
  }
  return bytes.length
}
