/**
 * A small RFC 4180 reader and writer: just what submission files need, and no dependency.
 * @internal
 */

const NEEDS_QUOTES = /[",\r\n]/

/** Quotes a field when RFC 4180 requires it (a comma, a double quote, CR or LF inside). */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

/** One parsed CSV record and the 1-based line it starts on. */
export interface CsvRecord {
  fields: string[]
  line: number
}

/** Why the reader stopped. */
export type CsvProblem = 'UNTERMINATED_QUOTE' | 'BAD_QUOTE'

/** Thrown by {@link CsvReader}; the submission layer turns it into a SubmissionError. */
export class CsvSyntaxError extends Error {
  override readonly name = 'CsvSyntaxError'
  constructor(
    readonly problem: CsvProblem,
    readonly line: number,
    message: string,
  ) {
    super(message)
  }
}

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
}

/**
 * Incremental RFC 4180 reader: feed it text in chunks of any size (a chunk may end inside a quoted field or
 * between CR and LF) and it returns the records completed so far. Accepts LF and CRLF line ends, strips a
 * leading byte-order mark, and skips empty lines.
 */
export class CsvReader {
  private state = State.FieldStart
  private field = ''
  private fields: string[] = []
  private line = 1
  private recordLine = 1
  private quoteLine = 1
  private afterCr = false
  private started = false

  /**
   * Reads a chunk, appending the records it completes to `out`. On a syntax error `out` still holds the
   * records before it, so a stream can deliver every good row ahead of the bad one.
   */
  push(chunk: string, out: CsvRecord[]): void {
    let i = 0
    const n = chunk.length
    if (!this.started && n > 0) {
      this.started = true
      if (chunk.charCodeAt(0) === 0xfeff) i = 1
    }
    for (; i < n; i++) {
      const c = chunk.charCodeAt(i)
      if (this.afterCr) {
        this.afterCr = false
        if (c === 10) continue // CRLF: the record already ended at CR
      }
      switch (this.state) {
        case State.FieldStart:
          if (this.fields.length === 0 && this.field === '') this.recordLine = this.line
          if (c === 34) {
            this.state = State.Quoted
            this.quoteLine = this.line
          } else if (c === 44) {
            this.fields.push('')
          } else if (c === 10 || c === 13) {
            this.endRecord(out, c)
          } else {
            // Scan the rest of an unquoted field in one slice instead of char by char.
            let j = i + 1
            while (j < n) {
              const d = chunk.charCodeAt(j)
              if (d === 44 || d === 10 || d === 13 || d === 34) break
              j++
            }
            this.field = chunk.slice(i, j)
            this.state = State.Unquoted
            i = j - 1
          }
          break
        case State.Unquoted:
          if (c === 44) {
            this.fields.push(this.field)
            this.field = ''
            this.state = State.FieldStart
          } else if (c === 10 || c === 13) {
            this.endRecord(out, c)
          } else if (c === 34) {
            throw new CsvSyntaxError(
              'BAD_QUOTE',
              this.line,
              `a double quote inside an unquoted field; quote the whole field and double the quote ("a""b")`,
            )
          } else {
            let j = i + 1
            while (j < n) {
              const d = chunk.charCodeAt(j)
              if (d === 44 || d === 10 || d === 13 || d === 34) break
              j++
            }
            this.field += chunk.slice(i, j)
            i = j - 1
          }
          break
        case State.Quoted:
          if (c === 34) {
            this.state = State.QuoteInQuoted
          } else {
            let j = i
            while (j < n) {
              const d = chunk.charCodeAt(j)
              if (d === 34) break
              if (d === 10) this.line++
              j++
            }
            this.field += chunk.slice(i, j)
            i = j - 1
          }
          break
        case State.QuoteInQuoted:
          if (c === 34) {
            this.field += '"'
            this.state = State.Quoted
          } else if (c === 44) {
            this.fields.push(this.field)
            this.field = ''
            this.state = State.FieldStart
          } else if (c === 10 || c === 13) {
            this.endRecord(out, c, true)
          } else {
            throw new CsvSyntaxError(
              'BAD_QUOTE',
              this.line,
              `text after the closing quote of a field; a quoted field must end at a comma or the end of the line`,
            )
          }
          break
      }
    }
  }

  /** Ends the input; returns the last record if the text did not end with a newline. */
  end(): CsvRecord[] {
    if (this.state === State.Quoted) {
      throw new CsvSyntaxError(
        'UNTERMINATED_QUOTE',
        this.quoteLine,
        `a quoted field opened here is never closed; add the closing double quote`,
      )
    }
    const out: CsvRecord[] = []
    if (this.state !== State.FieldStart || this.fields.length > 0) {
      this.fields.push(this.field)
      out.push({ fields: this.fields, line: this.recordLine })
    }
    this.fields = []
    this.field = ''
    this.state = State.FieldStart
    return out
  }

  private endRecord(out: CsvRecord[], c: number, quoted = false): void {
    const empty = !quoted && this.fields.length === 0 && this.field === '' && this.state === State.FieldStart
    if (!empty) {
      this.fields.push(this.field)
      out.push({ fields: this.fields, line: this.recordLine })
    }
    this.fields = []
    this.field = ''
    this.state = State.FieldStart
    this.line++
    if (c === 13) this.afterCr = true
  }
}
