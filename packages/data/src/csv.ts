import { DataError } from './errors'

/** One data row of a CSV file, with its 1-based line number for messages. */
export interface CsvRow {
  line: number
  fields: string[]
}

/**
 * Parses the small, quote-free CSV files of the Kaggle layouts (`train.csv`,
 * `depths.csv`, `sample_submission.csv`, `train_masks.csv`). Checks the header and the field count.
 *
 * @param text - the file text
 * @param file - the file name, for messages
 * @param header - the expected header fields
 * @returns the data rows with their line numbers
 * @example
 * ```ts
 * parseCsv("id,z\na,1\n", "depths.csv", ["id", "z"]) // [{ line: 2, fields: ["a", "1"] }]
 * ```
 */
export function parseCsv(text: string, file: string, header: string[]): CsvRow[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const first = (lines[0] ?? '').split(',').map((s) => s.trim().replace(/^"|"$/g, ''))
  if (first.length !== header.length || first.some((h, i) => h !== header[i])) {
    throw new DataError(
      'BAD_CSV',
      `${file} line 1: expected the header "${header.join(',')}", found "${lines[0] ?? ''}"; is this the right file?`,
      { file },
    )
  }
  const rows: CsvRow[] = []
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i]!
    if (raw.trim() === '') continue
    const fields = raw.split(',').map((s) => s.trim().replace(/^"|"$/g, ''))
    if (fields.length !== header.length) {
      throw new DataError(
        'BAD_CSV',
        `${file} line ${i + 1}: expected ${header.length} fields (${header.join(',')}), found ${fields.length}: "${raw}"`,
        { file },
      )
    }
    rows.push({ line: i + 1, fields })
  }
  return rows
}
