import { describe, expect, it } from 'vitest'
import { RleError } from './errors'
import {
  formatSubmission,
  parseSubmission,
  parseSubmissionChunks,
  submissionChunks,
  type SubmissionRow,
  TGS_ID_PATTERN,
} from './submission'
import { SubmissionError, type SubmissionErrorCode } from './submission-error'

function failure(run: () => unknown): SubmissionError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(SubmissionError)
    return error as SubmissionError
  }
  throw new Error('expected a SubmissionError, nothing was thrown')
}

async function asyncFailure(run: () => Promise<unknown>): Promise<SubmissionError> {
  try {
    await run()
  } catch (error) {
    expect(error).toBeInstanceOf(SubmissionError)
    return error as SubmissionError
  }
  throw new Error('expected a SubmissionError, nothing was thrown')
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

const rows: SubmissionRow[] = [
  { id: '0a1742c740', rleMask: '1 3 10 2' },
  { id: '0a7e067255', rleMask: '' },
  { id: 'with,comma', rleMask: '5 1' },
  { id: 'with "quotes"', rleMask: '' },
]

describe('formatSubmission', () => {
  it('writes the header and one line per row, quoting only where RFC 4180 requires', () => {
    expect(formatSubmission(rows)).toBe(
      'id,rle_mask\n0a1742c740,1 3 10 2\n0a7e067255,\n"with,comma",5 1\n"with ""quotes""",\n',
    )
  })

  it('uses other column names and CRLF on request', () => {
    expect(formatSubmission([{ id: 'car_01', rleMask: '1 1' }], { columns: ['img', 'rle_mask'], lineEnding: '\r\n' })).toBe(
      'img,rle_mask\r\ncar_01,1 1\r\n',
    )
  })

  it('writes only the header for no rows', () => {
    expect(formatSubmission([])).toBe('id,rle_mask\n')
  })

  const bad: Array<[string, unknown[], SubmissionErrorCode, number]> = [
    ['an empty id', [{ id: '', rleMask: '' }], 'INVALID_ID', 1],
    ['an id with spaces around it', [{ id: 'a', rleMask: '' }, { id: ' b', rleMask: '' }], 'INVALID_ID', 2],
    ['an id with a line break', [{ id: 'a\nb', rleMask: '' }], 'INVALID_ID', 1],
    ['a numeric id', [{ id: 7, rleMask: '' }], 'INVALID_ID', 1],
    ['a duplicate id', [{ id: 'a', rleMask: '' }, { id: 'b', rleMask: '' }, { id: 'a', rleMask: '1 1' }], 'DUPLICATE_ID', 3],
    ['a malformed RLE', [{ id: 'a', rleMask: '3 1 1 1' }], 'INVALID_RLE', 1],
    ['a missing RLE', [{ id: 'a' }], 'INVALID_ROW', 1],
    ['a null row', [null], 'INVALID_ROW', 1],
  ]

  it.each(bad)('refuses %s, naming the row', (_, input, code, line) => {
    const error = failure(() => formatSubmission(input as SubmissionRow[]))
    expect(error).toMatchObject({ name: 'SubmissionError', code, line })
    expect(error.message).toContain(`row ${line}`)
  })

  it('keeps the RleError as the cause of INVALID_RLE', () => {
    const error = failure(() => formatSubmission([{ id: 'a', rleMask: '0 1' }]))
    expect(error.cause).toBeInstanceOf(RleError)
    expect((error.cause as RleError).code).toBe('START_BELOW_ONE')
  })

  it('checks ids against idPattern and runs against shape when given', () => {
    expect(failure(() => formatSubmission([{ id: 'not-hex', rleMask: '' }], { idPattern: TGS_ID_PATTERN })).code).toBe('INVALID_ID')
    expect(formatSubmission([{ id: '0a1742c740', rleMask: '' }], { idPattern: TGS_ID_PATTERN })).toContain('0a1742c740')
    expect(formatSubmission([{ id: 'a', rleMask: '10200 2' }])).toContain('10200 2')
    expect(failure(() => formatSubmission([{ id: 'a', rleMask: '10200 3' }], { shape: { height: 101, width: 101 } })).code).toBe(
      'INVALID_RLE',
    )
  })

  it('skips the RLE check (only) when validateRle is false', () => {
    expect(formatSubmission([{ id: 'a', rleMask: 'anything' }], { validateRle: false })).toBe('id,rle_mask\na,anything\n')
    expect(failure(() => formatSubmission([{ id: 'a', rleMask: '' }, { id: 'a', rleMask: '' }], { validateRle: false })).code).toBe(
      'DUPLICATE_ID',
    )
  })
})

describe('submissionChunks', () => {
  it('streams the same text as formatSubmission, in chunks, from an async source', async () => {
    const many = Array.from({ length: 500 }, (_, i) => ({ id: `id${i}`, rleMask: `${i + 1} 3` }))
    async function* source(): AsyncGenerator<SubmissionRow> {
      yield* many
    }
    const chunks = await collect(submissionChunks(source(), { chunkSize: 1000 }))
    expect(chunks.length).toBeGreaterThan(3)
    expect(chunks.join('')).toBe(formatSubmission(many))
  })

  it('fails at the first bad row', async () => {
    const error = await asyncFailure(() => collect(submissionChunks([{ id: 'a', rleMask: '' }, { id: 'a', rleMask: '' }])))
    expect(error).toMatchObject({ code: 'DUPLICATE_ID', line: 2, id: 'a' })
  })
})

describe('parseSubmission', () => {
  it('reads back what formatSubmission wrote, quoted ids included', () => {
    expect(parseSubmission(formatSubmission(rows))).toEqual(rows)
    expect(parseSubmission(formatSubmission(rows, { lineEnding: '\r\n' }))).toEqual(rows)
  })

  it('accepts a byte-order mark, a missing final newline and blank lines', () => {
    expect(parseSubmission('\uFEFFid,rle_mask\r\na,1 2\r\n\r\nb,')).toEqual([
      { id: 'a', rleMask: '1 2' },
      { id: 'b', rleMask: '' },
    ])
  })

  it('reads quoted fields holding line breaks', () => {
    expect(parseSubmission('id,rle_mask\n"a",1 2\nb,"3\n4"\n')).toEqual([
      { id: 'a', rleMask: '1 2' },
      { id: 'b', rleMask: '3\n4' },
    ])
  })

  const bad: Array<[string, string, SubmissionErrorCode, number]> = [
    ['an empty file', '', 'INVALID_HEADER', 0],
    ['a wrong header', 'ImageId,EncodedPixels\na,1 1\n', 'INVALID_HEADER', 1],
    ['a header with a third column', 'id,rle_mask,x\n', 'INVALID_HEADER', 1],
    ['a line with three fields', 'id,rle_mask\na,1 1\nb,1 1,x\n', 'WRONG_FIELD_COUNT', 3],
    ['a line with one field', 'id,rle_mask\na\n', 'WRONG_FIELD_COUNT', 2],
    ['a quote inside an unquoted field', 'id,rle_mask\na"b,1 1\n', 'BAD_QUOTE', 2],
    ['text after a closing quote', 'id,rle_mask\n"a"b,1 1\n', 'BAD_QUOTE', 2],
    ['an unterminated quote', 'id,rle_mask\na,1 1\n"b,1 1\nc,\n', 'UNTERMINATED_QUOTE', 3],
    ['an empty id', 'id,rle_mask\n,1 1\n', 'INVALID_ID', 2],
    ['an id with a trailing space', 'id,rle_mask\nab ,1 1\n', 'INVALID_ID', 2],
    ['a duplicate id', 'id,rle_mask\na,1 1\nb,\na,\n', 'DUPLICATE_ID', 4],
    ['a malformed RLE', 'id,rle_mask\na,1 1\nb,1 x\n', 'INVALID_RLE', 3],
  ]

  it.each(bad)('refuses %s, naming the line', (_, text, code, line) => {
    const error = failure(() => parseSubmission(text, { source: 'sub.csv' }))
    expect(error).toMatchObject({ name: 'SubmissionError', code })
    if (line > 0) {
      expect(error.line).toBe(line)
      expect(error.message).toContain(`sub.csv line ${line}`)
    } else {
      expect(error.message).toContain('sub.csv')
    }
  })

  it('names the first line of a duplicate id', () => {
    expect(failure(() => parseSubmission('id,rle_mask\na,1 1\nb,\na,\n')).message).toMatch(/appeared already \(submission line 2\)/)
  })

  it('counts lines through quoted line breaks', () => {
    expect(failure(() => parseSubmission('id,rle_mask\na,"1\n1"\nb,1\n')).line).toBe(4)
  })

  it('uses the given columns, id pattern and shape', () => {
    expect(parseSubmission('img,rle_mask\ncar_01,1 1\n', { columns: ['img', 'rle_mask'] })).toEqual([{ id: 'car_01', rleMask: '1 1' }])
    expect(failure(() => parseSubmission('id,rle_mask\nXYZ,\n', { idPattern: TGS_ID_PATTERN })).code).toBe('INVALID_ID')
    expect(failure(() => parseSubmission('id,rle_mask\na,5 3\n', { shape: { height: 2, width: 3 } })).code).toBe('INVALID_RLE')
  })
})

describe('parseSubmissionChunks', () => {
  const text = formatSubmission(rows, { lineEnding: '\r\n' }) + 'x,"quoted\r\nrle"\r\n'
  const expected = [...rows, { id: 'x', rleMask: 'quoted\r\nrle' }]

  it('gives the same rows however the text is split (inside quotes, between CR and LF)', async () => {
    for (let cut = 0; cut <= text.length; cut++) {
      const parsed = await collect(parseSubmissionChunks([text.slice(0, cut), text.slice(cut)], { validateRle: false }))
      expect(parsed, `split at ${cut}`).toEqual(expected)
    }
  })

  it('decodes UTF-8 bytes split inside a character', async () => {
    const bytes = new TextEncoder().encode('id,rle_mask\nnaïve_é,1 1\n')
    const pieces = Array.from(bytes, (b) => new Uint8Array([b]))
    expect(await collect(parseSubmissionChunks(pieces))).toEqual([{ id: 'naïve_é', rleMask: '1 1' }])
  })

  it('reads a web ReadableStream', async () => {
    const stream = new ReadableStream<string>({
      start(controller) {
        controller.enqueue('id,rle_mask\na,')
        controller.enqueue('1 2\n')
        controller.close()
      },
    })
    expect(await collect(parseSubmissionChunks(stream))).toEqual([{ id: 'a', rleMask: '1 2' }])
  })

  it('yields rows before the input ends', async () => {
    let released = false
    async function* slow(): AsyncGenerator<string> {
      yield 'id,rle_mask\na,1 1\n'
      released = true
      yield 'b,2 2\n'
    }
    const iterator = parseSubmissionChunks(slow())
    expect((await iterator.next()).value).toEqual({ id: 'a', rleMask: '1 1' })
    expect(released).toBe(false)
    await iterator.return(undefined)
  })

  it('fails at the first bad line', async () => {
    const error = await asyncFailure(() => collect(parseSubmissionChunks(['id,rle_mask\na,1 1\n', 'a,2 2\n'])))
    expect(error).toMatchObject({ code: 'DUPLICATE_ID', line: 3 })
  })
})

describe('ids that are not UTF-8 (issue 17)', () => {
  // "caf\xE9" in Latin-1: a lone 0xE9 byte that UTF-8 decoders silently turn into U+FFFD
  const latin1 = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))
  const bytes = latin1('id,rle_mask\nok,1 1\ncaf\xe9,2 2\n')

  it('are refused with the line, whole or byte by byte', async () => {
    for (const pieces of [[bytes], Array.from(bytes, (b) => new Uint8Array([b]))]) {
      const error = await asyncFailure(() => collect(parseSubmissionChunks(pieces, { source: 'sub.csv' })))
      expect(error).toMatchObject({ code: 'INVALID_UTF8', line: 3, message: 'sub.csv line 3: not valid UTF-8, so its id cannot be read as written; save the file as UTF-8.' })
    }
  })

  it('are refused when the file ends inside a character', async () => {
    const truncated = new Uint8Array([...new TextEncoder().encode('id,rle_mask\nx,1 1\nna'), 0xc3])
    const error = await asyncFailure(() => collect(parseSubmissionChunks([truncated])))
    expect(error).toMatchObject({ code: 'INVALID_UTF8', line: 3 })
  })

  it('leave valid multi-byte ids alone', async () => {
    const good = new TextEncoder().encode('id,rle_mask\ncafé_🐋,1 1\n')
    expect(await collect(parseSubmissionChunks([good.subarray(0, 17), good.subarray(17)]))).toEqual([{ id: 'café_🐋', rleMask: '1 1' }])
  })
})
