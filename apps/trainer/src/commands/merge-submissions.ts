import type { Command } from 'commander'
import { submissionFormat } from '@unet/predict'
import { expectedIds, mergeSubmissions, readRun } from '@unet/predict/node'

interface MergeFlags {
  out: string
  data?: string
  images?: string
  sample?: string
  model?: string
  idColumn?: string
  idSuffix?: string
}

/**
 * Adds `unet merge-submissions`: joins the part files of a sharded `unet predict` into one submission, checking
 * every test id appears exactly once.
 *
 * @param program - the `unet` program
 * @returns the command
 */
export function addMergeSubmissionsCommand(program: Command): Command {
  return program
    .command('merge-submissions')
    .description('Join the part files of `unet predict --shard` into one submission; refuses when a test id is missing, duplicated or unknown.')
    .argument('<parts...>', 'the part files (.csv or .csv.gz)')
    .requiredOption('--out <file>', 'the merged submission (.gz is gzipped; - is standard output)')
    .option('--data <dir>', 'the dataset that was predicted: its sample_submission.csv, or its test images, are the ids to expect')
    .option('--images <dir>', 'the folder of images that was predicted')
    .option('--sample <file>', 'a sample submission listing the ids to expect, in order')
    .option('--model <run_dir>', "the run that predicted (its id column and suffix, e.g. img and .jpg for Carvana); default: the parts' header, no suffix")
    .option('--id-column <name>', 'the id column (default: from --model, else id)')
    .option('--id-suffix <text>', 'appended to image stems to make ids (default: from --model, else none)')
    .action(async (parts: string[], flags: MergeFlags) => {
      const given = [flags.data, flags.images, flags.sample].filter((x) => x !== undefined).length
      if (given !== 1) throw new Error('say which ids the merged file must hold with exactly one of --data DIR, --images DIR or --sample FILE')
      const run = flags.model !== undefined ? (await readRun(flags.model)).run : null
      const format = run ? submissionFormat(run, flags.idColumn !== undefined ? { idColumn: flags.idColumn } : {}) : { idColumn: flags.idColumn ?? 'id', idSuffix: '' }
      const idSuffix = flags.idSuffix ?? format.idSuffix
      const ids = await expectedIds(
        { ...(flags.data !== undefined ? { data: flags.data } : {}), ...(flags.images !== undefined ? { images: flags.images } : {}), ...(flags.sample !== undefined ? { sample: flags.sample } : {}) },
        { idColumn: format.idColumn, idSuffix },
      )
      const r = await mergeSubmissions(parts, flags.out, { expectedIds: ids })
      ;(flags.out === '-' ? process.stderr : process.stdout).write(`merged ${r.parts} parts into ${r.out}: ${r.rows} rows, every test id once\n`)
    })
}
