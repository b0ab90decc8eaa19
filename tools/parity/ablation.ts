/**
 * The TGS recipes, one row at a time, on the synthetic TGS data: each row is trained with the `unet` command at the
 * same budget for each seed and scored with `unet evaluate` on a held-out set of another seed (its threshold chosen
 * on the row's own validation set). Prints a Markdown table of held-out TGS mean ± sd; writes JSON and Markdown under
 * ROOT/results. Each (row, seed) is kept once done, so the table fills in over several calls; rows whose flag or
 * command the given `unet` does not have yet are listed as not available.
 *
 *   pnpm --filter @unet/parity ablation [--rows plain,resnet34,…] [--seeds 3] [--first-seed 1] [--train 300]
 *     [--heldout 150] [--test 100] [--epochs 6] [--image-size 64] [--cli apps/trainer/dist/cli.js] [--root tools/parity/work]
 *     [--dry-run]
 *
 * --dry-run prints each row's commands (and whether the `unet` given has their flags) without running them;
 * --table-only writes the table of what has been run so far at this budget, training nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { release, tryLock } from './lock'
import { meanSd } from './stats'

const here = fileURLToPath(new URL('.', import.meta.url))
const repo = resolve(here, '../..')

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string' },
    seeds: { type: 'string', default: '3' },
    'first-seed': { type: 'string', default: '1' },
    train: { type: 'string', default: '300' },
    heldout: { type: 'string', default: '150' },
    test: { type: 'string', default: '100' },
    epochs: { type: 'string', default: '6' },
    'image-size': { type: 'string', default: '64' },
    cli: { type: 'string', default: join(repo, 'apps/trainer/dist/cli.js') },
    root: { type: 'string', default: join(here, 'work') },
    'dry-run': { type: 'boolean', default: false },
    'table-only': { type: 'boolean', default: false },
  },
})

const E = Number(opts.epochs)
const budget = { train: Number(opts.train), heldout: Number(opts.heldout), test: Number(opts.test), epochs: E, imageSize: Number(opts['image-size']) }
const root = resolve(opts.root!)
const cli = resolve(opts.cli!)
const tag = `n${budget.train}-e${E}-i${budget.imageSize}`

/**
 * Placeholders in a row's commands: {data} train set, {test} its test images, {held} held-out set, {out} this row's
 * folder, {seed}, and {after} the folder of the row named by `after` (same seed).
 */
interface Row {
  id: string
  label: string
  /** A row whose cell (same seed) must be done first; its folder is {after}. */
  after?: string
  /** `unet` subcommand and flags, in order; the last step's output folder is evaluated. */
  steps: string[][]
  /** What is evaluated: a run folder, or a folder of runs (k folds), relative to {out}. */
  evaluate: { model: string; flags?: string[] }
}

const common = ['--data', '{data}', '--seed', '{seed}', '--epochs', String(E), '--image-size', String(budget.imageSize), '--quiet']
const train = (...flags: string[]): string[] => ['train', ...common, '--out', '{out}/run', ...flags]
const resnet = ['--encoder', 'resnet34']
const scse = [...resnet, '--decoder-attention', 'scse']
const hyper = [...scse, '--hypercolumn']
const deep = [...hyper, '--deep-supervision']
const switchAt = Math.max(1, Math.round(E * 0.6))
const lovasz = [...deep, '--loss-schedule', `bce_dice@0,lovasz_hinge@${switchAt}`]

const ROWS: Row[] = [
  { id: 'plain', label: 'plain U-Net (defaults)', steps: [train()], evaluate: { model: 'run' } },
  { id: 'resnet34', label: '`--encoder resnet34`', steps: [train(...resnet)], evaluate: { model: 'run' } },
  { id: 'scse', label: '+ `--decoder-attention scse`', steps: [train(...scse)], evaluate: { model: 'run' } },
  { id: 'hypercolumn', label: '+ `--hypercolumn`', steps: [train(...hyper)], evaluate: { model: 'run' } },
  { id: 'deep-supervision', label: '+ `--deep-supervision`', steps: [train(...deep)], evaluate: { model: 'run' } },
  { id: 'lovasz', label: `+ \`--loss-schedule "bce_dice@0,lovasz_hinge@${switchAt}"\``, steps: [train(...lovasz)], evaluate: { model: 'run' } },
  {
    id: 'snapshots',
    label: `+ snapshot ensemble (\`--lr-schedule cosine --lr-cycle-epochs ${Math.max(1, Math.floor(E / 3))}\`, \`evaluate --snapshots\`)`,
    steps: [train(...lovasz, '--lr-schedule', 'cosine', '--lr-cycle-epochs', String(Math.max(1, Math.floor(E / 3))))],
    evaluate: { model: 'run', flags: ['--snapshots'] },
  },
  {
    id: 'kfold',
    label: '5-fold ensemble (`unet kfold --folds 5`, the lovasz row\'s flags)',
    steps: [['kfold', ...common, '--out', '{out}/kfold', '--folds', '5', ...lovasz]],
    evaluate: { model: 'kfold' },
  },
  {
    id: 'pseudo',
    label: '+ pseudo-labels (`unet pseudo-label` on the kfold row\'s 5 folds, one more round)',
    after: 'kfold',
    steps: [['pseudo-label', '--model', '{after}/kfold', ...common, '--test', '{test}', '--out', '{out}/pseudo', ...lovasz]],
    evaluate: { model: 'pseudo' },
  },
]

/** The flags and subcommands a row uses that the given `unet` does not list in its help. */
function missing(row: Row): string[] {
  const top = help([])
  const out: string[] = []
  for (const step of [...row.steps, ['evaluate', ...(row.evaluate.flags ?? [])]]) {
    const [command, ...args] = step as [string, ...string[]]
    if (!new RegExp(`^\\s+${command}\\b`, 'm').test(top)) {
      out.push(`unet ${command}`)
      continue
    }
    const text = help([command])
    for (const a of args) if (a.startsWith('--') && !text.includes(a)) out.push(`${command} ${a}`)
  }
  return [...new Set(out)]
}

const helps = new Map<string, string>()
function help(command: string[]): string {
  const key = command.join(' ')
  if (!helps.has(key)) helps.set(key, execFileSync(process.execPath, [cli, ...command, '--help'], { encoding: 'utf8' }))
  return helps.get(key) as string
}

function synthSet(kind: string, count: number, testCount: number, seed: number): string {
  const dir = join(root, 'data', `${kind}-n${count}-t${testCount}-seed${seed}`)
  if (!existsSync(join(dir, 'done'))) {
    rmSync(dir, { recursive: true, force: true })
    execFileSync(process.execPath, [cli, 'synth', '--out', dir, '--count', String(count), '--test-count', String(testCount), '--seed', String(seed)], { stdio: 'inherit' })
    writeFileSync(join(dir, 'done'), '')
  }
  return dir
}

interface Cell {
  row: string
  seed: number
  heldout: number
  threshold: number
  minutes: number
  load: number[]
}

const cellDir = (row: Row, seed: number): string => join(root, 'ablation', tag, row.id, `seed${seed}`)
const isDone = (row: Row, seed: number): boolean => existsSync(join(cellDir(row, seed), 'result.json'))
const rowById = (id: string): Row => ROWS.find((r) => r.id === id) as Row

/**
 * Runs every (row, seed) cell not yet done. Several calls with the same flags share the work: each takes a free
 * cell (its lock), skips the ones another call holds and those whose `after` cell is not done yet, and waits
 * only when nothing is free.
 */
async function runCells(rows: Row[], seeds: number[]): Promise<void> {
  for (const row of rows) if (row.after && !rows.some((r) => r.id === row.after)) rows = [rowById(row.after), ...rows]
  for (;;) {
    const todo = rows.flatMap((row) => seeds.filter((seed) => !isDone(row, seed)).map((seed) => ({ row, seed })))
    if (todo.length === 0) return
    const ready = todo.filter(({ row, seed }) => !row.after || isDone(rowById(row.after), seed))
    const taken = ready.find(({ row, seed }) => tryLock(`${cellDir(row, seed)}.lock`))
    if (!taken) {
      await new Promise((r) => setTimeout(r, 10_000))
      continue
    }
    const out = cellDir(taken.row, taken.seed)
    try {
      if (!isDone(taken.row, taken.seed)) trainCell(taken.row, taken.seed, out, join(out, 'result.json'))
    } finally {
      release(`${out}.lock`)
    }
  }
}

function trainCell(row: Row, seed: number, out: string, done: string): void {
  if (existsSync(done)) return
  const data = synthSet('train', budget.train, budget.test, seed)
  const held = synthSet('heldout', budget.heldout, 0, seed + 1000)
  const after = row.after ? cellDir(rowById(row.after), seed) : ''
  const fill = (a: string): string => a.replace('{data}', data).replace('{held}', held).replace('{test}', join(data, 'test', 'images')).replace('{out}', out).replace('{after}', after).replace('{seed}', String(seed))
  mkdirSync(out, { recursive: true })
  const t0 = Date.now()
  for (const step of row.steps) {
    const args = step.map(fill)
    console.log(`$ unet ${args.join(' ')}`)
    const r = spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'inherit', 'inherit'] })
    if (r.status !== 0) throw new Error(`unet ${args.join(' ')} exited with ${r.status ?? r.signal}`)
  }
  const minutes = (Date.now() - t0) / 60000
  const evalArgs = ['evaluate', '--model', join(out, row.evaluate.model), '--data', held, '--json', ...(row.evaluate.flags ?? [])]
  const r = JSON.parse(execFileSync(process.execPath, [cli, ...evalArgs], { encoding: 'utf8', maxBuffer: 1 << 28 })) as { scores: { tgs: number }; threshold: number }
  const cell: Cell = { row: row.id, seed, heldout: r.scores.tgs, threshold: r.threshold, minutes, load: loadavg() }
  writeFileSync(done, JSON.stringify(cell, null, 1))
  console.log(`${row.id} seed ${seed}: held-out TGS ${cell.heldout.toFixed(3)} at threshold ${cell.threshold} (${minutes.toFixed(1)} min)`)
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build the trainer (pnpm turbo run build --filter @unet/trainer...) or pass --cli`)
  const wanted = opts.rows ? opts.rows.split(',') : ROWS.map((r) => r.id)
  const unknown = wanted.filter((id) => !ROWS.some((r) => r.id === id))
  if (unknown.length) throw new Error(`unknown row(s) ${unknown.join(', ')}; rows: ${ROWS.map((r) => r.id).join(', ')}`)
  const seeds = Array.from({ length: Number(opts.seeds) }, (_, i) => Number(opts['first-seed']) + i)
  const runnable: Row[] = []
  for (const row of opts['table-only'] ? [] : ROWS.filter((r) => wanted.includes(r.id))) {
    const lacking = missing(row)
    if (opts['dry-run']) {
      console.log(`${row.id}: ${row.steps.map((s) => `unet ${s.join(' ')}`).join(' && ')}${lacking.length ? `   [not in this unet: ${lacking.join(', ')}]` : ''}`)
      continue
    }
    if (lacking.length) {
      console.log(`${row.id}: skipped, this unet lacks ${lacking.join(', ')}`)
      continue
    }
    runnable.push(row)
  }
  await runCells(runnable, seeds)
  if (opts['dry-run']) return
  // the table: every row with results so far at this budget
  const lines = [
    `Held-out TGS score on the synthetic TGS data: ${budget.train} train images of seed S (80/20 split, ${budget.test} test images for pseudo-labels), ${E} epochs, ${budget.imageSize}×${budget.imageSize}; held out: ${budget.heldout} images of seed S + 1000; threshold chosen on validation.`,
    '',
    '| row | held-out TGS (mean ± sd) | seeds | per seed | minutes per run | command |',
    '| --- | --- | --- | --- | --- | --- |',
  ]
  const json: unknown[] = []
  for (const row of ROWS) {
    const dir = join(root, 'ablation', tag, row.id)
    const cells = seeds.flatMap((s) => (existsSync(join(dir, `seed${s}`, 'result.json')) ? [JSON.parse(readFileSync(join(dir, `seed${s}`, 'result.json'), 'utf8')) as Cell] : []))
    const command = `${row.steps.map((s) => `unet ${s.join(' ')}`).join(' && ')} && unet evaluate --model {out}/${row.evaluate.model} --data {held}${row.evaluate.flags ? ` ${row.evaluate.flags.join(' ')}` : ''}`
    if (cells.length === 0) {
      lines.push(`| ${row.label} | not run | 0 | | | \`${command}\` |`)
      continue
    }
    const s = meanSd(cells.map((c) => c.heldout))
    const minutes = meanSd(cells.map((c) => c.minutes)).mean
    lines.push(`| ${row.label} | ${s.mean.toFixed(3)} ± ${cells.length > 1 ? s.sd.toFixed(3) : '—'} | ${cells.length} | ${cells.map((c) => c.heldout.toFixed(3)).join(', ')} | ${minutes.toFixed(1)} | \`${command}\` |`)
    json.push({ row: row.id, label: row.label, command, ...s, cells })
  }
  const outDir = join(root, 'results')
  mkdirSync(outDir, { recursive: true })
  writeFileSync(join(outDir, `ablation-${tag}.json`), JSON.stringify({ budget, rows: json }, null, 1))
  writeFileSync(join(outDir, `ablation-${tag}.md`), lines.join('\n') + '\n')
  console.log(`\n${lines.join('\n')}\n\nwrote ${join(outDir, `ablation-${tag}`)}.json and .md`)
}

await main()
