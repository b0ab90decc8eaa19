/**
 * Training parity with PyTorch over seeds: for each seed, the synthetic TGS set (`unet synth`, seed S) and a held-out
 * set of another seed (S + 1000); our U-Net trained with `unet train` (its defaults unless flags say otherwise) and the
 * same net and recipe trained by torch_train.py on the same prepared images and the same split; both scored on the
 * held-out set with the same code (@unet/data's restoreProbabilities, @unet/metrics' counts and TGS score), each at
 * the threshold chosen on its own validation set (@unet/metrics' ThresholdSweep over @unet/train's DEFAULT_THRESHOLDS, as validate does).
 * Prints mean ± sd for both and the paired difference (ours − PyTorch) with its 95% t interval; writes JSON and
 * Markdown under ROOT/results. Data and runs are reused when present, so an interrupted run continues seed by seed.
 * Not part of CI (needs Debian's python3-torch; minutes per seed).
 *
 *   pnpm --filter @unet/parity seeds [--seeds 5] [--first-seed 1] [--train 1000] [--heldout 300] [--epochs 10]
 *     [--image-size 128] [--filters 8] [--flags "…extra unet train flags…"] [--torch-flags "--recalibrate-bn"]
 *     [--only ours|torch] [--root tools/parity/work] [--quick]
 *
 * --quick: 96 train images, 32 held out, 2 epochs, 32×32, 4 filters, 2 seeds (a plumbing check, seconds per seed).
 * Needs the trainer built: pnpm turbo run build --filter @unet/trainer...
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { openDataset, prepareImage, restoreProbabilities, type PrepareSpec, type Sample } from '@unet/data'
import { resolveUnetOptions } from '@unet/layers'
import { confusionCounts, DEFAULT_SWEEP_THRESHOLDS, tgsImageScoreFromCounts, ThresholdSweep } from '@unet/metrics'
import { predictProbabilities } from '@unet/predict'
import { loadRunModel, readRun, toModelChannels } from '@unet/predict/node'
import { initBackend } from '@unet/runtime'
import { DEFAULT_THRESHOLDS } from '@unet/train'
import { FixtureWriter } from './fixture'
import { once } from './lock'
import { meanSd, pairedDifference, type Interval } from './stats'
// the trainer is an app without package exports: its config and data loading are read from source (tsx)
import { resolveTrainConfig } from '../../apps/trainer/src/config'
import { loadRunData, prepareSpec, type PreparedSet } from '../../apps/trainer/src/data'

const here = fileURLToPath(new URL('.', import.meta.url))
const repo = resolve(here, '../..')
const cli = join(repo, 'apps/trainer/dist/cli.js')
const python = process.env.PYTHON ?? '/usr/bin/python3'

const { values: opts } = parseArgs({
  options: {
    seeds: { type: 'string' },
    'first-seed': { type: 'string', default: '1' },
    train: { type: 'string' },
    heldout: { type: 'string' },
    epochs: { type: 'string' },
    'image-size': { type: 'string' },
    filters: { type: 'string' },
    flags: { type: 'string', default: '' },
    'torch-flags': { type: 'string', default: '' },
    threads: { type: 'string', default: '2' },
    only: { type: 'string' },
    root: { type: 'string', default: join(here, 'work') },
    quick: { type: 'boolean', default: false },
  },
})

const quick = opts.quick === true
const num = (v: string | undefined, quickValue: number, full: number): number => (v !== undefined ? Number(v) : quick ? quickValue : full)
const setup = {
  seeds: num(opts.seeds, 2, 5),
  firstSeed: Number(opts['first-seed']),
  train: num(opts.train, 96, 1000),
  heldout: num(opts.heldout, 32, 300),
  epochs: num(opts.epochs, 2, 10),
  imageSize: num(opts['image-size'], 32, 128),
  filters: num(opts.filters, 4, resolveTrainConfig({}).filters),
  flags: opts.flags!.split(/\s+/).filter(Boolean),
  torchFlags: opts['torch-flags']!.split(/\s+/).filter(Boolean),
}
const root = resolve(opts.root!)
const tag = [`n${setup.train}`, `e${setup.epochs}`, `i${setup.imageSize}`, `f${setup.filters}`, ...(setup.flags.length ? [setup.flags.join('').replace(/[^\w.,@-]+/g, '_')] : [])].join('-')
const torchTag = setup.torchFlags.length ? `-${setup.torchFlags.join('').replace(/[^\w.,@-]+/g, '_')}` : ''

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`)
}

/** The synthetic TGS set of a seed in the Kaggle layout (written once; `done` marks it complete). */
function synthSet(kind: string, count: number, seed: number): string {
  const dir = join(root, 'data', `${kind}-n${count}-seed${seed}`)
  if (!existsSync(join(dir, 'done'))) {
    rmSync(dir, { recursive: true, force: true })
    run(process.execPath, [cli, 'synth', '--out', dir, '--count', String(count), '--test-count', '0', '--seed', String(seed)])
    writeFileSync(join(dir, 'done'), '')
  }
  return dir
}

async function loadAll(dir: string): Promise<Sample[]> {
  const dataset = await openDataset(dir, { test: false })
  try {
    const out: Sample[] = []
    for (const entry of dataset.train) out.push(await dataset.load(entry))
    return out.sort((a, b) => (a.id < b.id ? -1 : 1))
  } finally {
    await dataset.close()
  }
}

/** Held-out TGS score at `threshold`, and the best threshold of a sweep on the held-out set itself (for reference only). */
function scoreHeldOut(probs: Float32Array[], samples: Sample[], spec: PrepareSpec, threshold: number): { tgs: number; oracle: { threshold: number; tgs: number } } {
  const sweep = new ThresholdSweep(DEFAULT_SWEEP_THRESHOLDS, { metric: 'tgs' })
  let sum = 0
  samples.forEach((s, i) => {
    const p = restoreProbabilities(probs[i] as Float32Array, { width: s.width, height: s.height }, spec)
    sweep.add(p, s.mask)
    sum += tgsImageScoreFromCounts(confusionCounts(p, s.mask, { threshold }))
  })
  const best = sweep.result().best
  return { tgs: sum / samples.length, oracle: { threshold: best.threshold, tgs: best.score } }
}

function split(flat: Float32Array, count: number): Float32Array[] {
  const n = flat.length / count
  return Array.from({ length: count }, (_, i) => flat.subarray(i * n, (i + 1) * n))
}

interface SideResult {
  seed: number
  heldout: number
  threshold: number
  oracle: { threshold: number; tgs: number }
  val: number
  bestEpoch: number
  seconds: number | null
}

async function ours(seed: number, data: string, held: Sample[], spec: PrepareSpec, prepared: Float32Array): Promise<SideResult> {
  const dir = join(root, 'runs', tag, `ours-seed${seed}`)
  const marker = join(dir, 'harness.json')
  if (!existsSync(marker)) await once(`${dir}.lock`, () => {
    if (existsSync(marker)) return
    const args = [cli, 'train', '--data', data, '--seed', String(seed), '--epochs', String(setup.epochs), '--image-size', String(setup.imageSize), '--filters', String(setup.filters), '--out', dir, '--quiet', ...setup.flags]
    if (existsSync(join(dir, 'checkpoints', 'last.json'))) args.push('--resume')
    const t0 = Date.now()
    run(process.execPath, args)
    writeFileSync(marker, JSON.stringify({ seconds: (Date.now() - t0) / 1000, load: loadavg(), args: args.slice(1) }))
  })
  const folder = await readRun(dir)
  const model = await loadRunModel(folder)
  try {
    const { width, height, channels } = folder.run.input
    const probs = await predictProbabilities(model, { data: prepared, count: held.length, width, height, channels }, { activation: folder.run.output.activation })
    const scored = scoreHeldOut(probs, held, spec, folder.run.threshold)
    const history = JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8')) as { valTgs: number }[]
    const best = history.reduce((b, h, i) => (h.valTgs > (history[b]?.valTgs ?? -1) ? i : b), 0)
    const seconds = (JSON.parse(readFileSync(marker, 'utf8')) as { seconds: number }).seconds
    return { seed, heldout: scored.tgs, threshold: folder.run.threshold, oracle: scored.oracle, val: history[best]?.valTgs ?? NaN, bestEpoch: best + 1, seconds }
  } finally {
    model.dispose()
  }
}

async function torch(seed: number, data: string, held: Sample[], spec: PrepareSpec, prepared: Float32Array): Promise<SideResult> {
  const dir = join(root, 'runs', tag, `torch${torchTag}-seed${seed}`)
  const config = resolveTrainConfig({ data, seed, epochs: setup.epochs, imageSize: setup.imageSize, filters: setup.filters })
  const runData = await loadRunData(config, 1)
  if (!existsSync(join(dir, 'summary.json'))) await once(`${dir}.lock`, () => {
    if (existsSync(join(dir, 'summary.json'))) return
    // the very split and preparing our trainer uses, handed over as float32 arrays (fixture.ts' layout)
    const caseDir = join(dir, 'case')
    mkdirSync(caseDir, { recursive: true })
    // synthetic TGS data is held in memory (apps/trainer's PreparedSet), never streamed
    const tr = runData.train as PreparedSet
    const va = runData.validation as PreparedSet
    const w = new FixtureWriter()
    const originals = new Float32Array(va.count * (va.shapes[0]!.height * va.shapes[0]!.width))
    va.originalMasks.forEach((m, i) => originals.set(m, i * m.length))
    const arrays = {
      trainImages: w.put(tr.images, [tr.count, tr.height, tr.width, tr.channels]),
      trainMasks: w.put(tr.masks, [tr.count, tr.height, tr.width]),
      valImages: w.put(va.images, [va.count, va.height, va.width, va.channels]),
      valMasks: w.put(va.masks, [va.count, va.height, va.width]),
      valOriginalMasks: w.put(originals, [va.count, va.shapes[0]!.height, va.shapes[0]!.width]),
      heldoutImages: w.put(prepared, [held.length, tr.height, tr.width, tr.channels]),
    }
    const u = resolveUnetOptions({ depth: config.depth, filters: config.filters, batchNormMomentum: config.batchNormMomentum, dropout: config.dropout, inputShape: [tr.height, tr.width, tr.channels] })
    if (config.dropout !== 0 || config.loss !== 'bce_dice' || config.augment.join() !== 'horizontal_flip' || config.lrSchedule !== 'plateau') {
      throw new Error(`torch_train.py mirrors the default recipe only (dropout 0, bce_dice, horizontal_flip, plateau); got ${JSON.stringify({ dropout: config.dropout, loss: config.loss, augment: config.augment, lrSchedule: config.lrSchedule })}`)
    }
    const unet = { depth: u.depth, filters: u.filters, filterScaling: u.filterScaling, batchNormMomentum: u.batchNormMomentum, upsampling: u.upsampling, outputActivation: 'sigmoid', classes: 1, inputShape: u.inputShape }
    w.write(caseDir, { seed, arrays, unet })
    const t0 = Date.now()
    run(python, [join(here, 'torch_train.py'), caseDir, dir, '--epochs', String(setup.epochs), '--batch', String(config.batchSize), '--lr', String(config.lr), '--patience', String(config.patience), '--lr-patience', String(config.lrPatience), '--threads', opts.threads!, ...setup.torchFlags])
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ ...summary, wallSeconds: (Date.now() - t0) / 1000, load: loadavg() }, null, 1))
    rmSync(caseDir, { recursive: true, force: true })
  })
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { best: { valTgs: number; epoch: number }; wallSeconds?: number }
  const va = runData.validation as PreparedSet
  const valProbs = split(new Float32Array(readFileSync(join(dir, 'val.f32')).buffer.slice(0)), va.count).map((p, i) => restoreProbabilities(p, va.shapes[i]!, spec))
  // the threshold our trainer would choose from these validation probabilities
  const sweep = new ThresholdSweep(DEFAULT_THRESHOLDS, { metric: 'tgs' })
  valProbs.forEach((p, i) => sweep.add(p, va.originalMasks[i] as Uint8Array))
  const threshold = sweep.result().best.threshold
  const probs = split(new Float32Array(readFileSync(join(dir, 'heldout.f32')).buffer.slice(0)), held.length)
  const scored = scoreHeldOut(probs, held, spec, threshold)
  return { seed, heldout: scored.tgs, threshold, oracle: scored.oracle, val: summary.best.valTgs, bestEpoch: summary.best.epoch, seconds: summary.wallSeconds ?? null }
}

const f3 = (x: number): string => x.toFixed(3)
const fmt = (s: { mean: number; sd: number }): string => `${f3(s.mean)} ± ${f3(s.sd)}`

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build the trainer first (pnpm turbo run build --filter @unet/trainer...)`)
  execFileSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' })
  await initBackend({ backend: 'auto' })
  const seeds = Array.from({ length: setup.seeds }, (_, i) => setup.firstSeed + i)
  const rows: { seed: number; ours?: SideResult; torch?: SideResult }[] = []
  const started = new Date().toISOString()
  const loadStart = loadavg()
  for (const seed of seeds) {
    const data = synthSet('train', setup.train, seed)
    const heldDir = synthSet('heldout', setup.heldout, seed + 1000)
    const held = await loadAll(heldDir)
    const spec = prepareSpec(resolveTrainConfig({ imageSize: setup.imageSize }))
    const prepared = new Float32Array(held.length * spec.width * spec.height)
    // grey TGS images stored as RGB become one channel, as the trainer and `unet predict` take them
    held.forEach((s, i) => prepared.set(prepareImage(toModelChannels(s, 1, s.id), { width: s.width, height: s.height, channels: 1 }, spec), i * spec.width * spec.height))
    const row: (typeof rows)[number] = { seed }
    if (opts.only !== 'torch') row.ours = await ours(seed, data, held, spec, prepared)
    if (opts.only !== 'ours') row.torch = await torch(seed, data, held, spec, prepared)
    rows.push(row)
    console.log(`seed ${seed}: ours ${row.ours ? f3(row.ours.heldout) : '—'} (threshold ${row.ours?.threshold ?? '—'}), PyTorch ${row.torch ? f3(row.torch.heldout) : '—'} (threshold ${row.torch?.threshold ?? '—'})`)
  }
  const o = rows.flatMap((r) => (r.ours ? [r.ours.heldout] : []))
  const t = rows.flatMap((r) => (r.torch ? [r.torch.heldout] : []))
  const paired = rows.filter((r) => r.ours && r.torch)
  const diff: Interval | null = paired.length >= 2 ? pairedDifference(paired.map((r) => r.ours!.heldout), paired.map((r) => r.torch!.heldout)) : null
  const result = { setup: { ...setup, tag, started, finished: new Date().toISOString(), load: { start: loadStart, end: loadavg() } }, rows, ours: o.length ? meanSd(o) : null, torch: t.length ? meanSd(t) : null, difference: diff }
  const md = [
    `Held-out TGS score (${setup.heldout} images of seed S + 1000), ${setup.train} synthetic train images of seed S (80/20 split), ${setup.epochs} epochs, ${setup.imageSize}×${setup.imageSize}, ${setup.filters} filters${setup.flags.length ? `, flags \`${setup.flags.join(' ')}\`` : ''}${setup.torchFlags.length ? `, PyTorch \`${setup.torchFlags.join(' ')}\`` : ''}:`,
    '',
    '| seed | ours | threshold | PyTorch | threshold | ours − PyTorch |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.seed} | ${r.ours ? f3(r.ours.heldout) : '—'} | ${r.ours?.threshold ?? '—'} | ${r.torch ? f3(r.torch.heldout) : '—'} | ${r.torch?.threshold ?? '—'} | ${r.ours && r.torch ? (r.ours.heldout - r.torch.heldout).toFixed(3) : '—'} |`),
    `| mean ± sd | ${result.ours ? fmt(result.ours) : '—'} | | ${result.torch ? fmt(result.torch) : '—'} | | ${diff ? `${f3(diff.mean)} [${f3(diff.low)}, ${f3(diff.high)}]` : '—'} |`,
    '',
    diff ? `Difference ours − PyTorch, paired by seed: ${f3(diff.mean)}, 95% CI [${f3(diff.low)}, ${f3(diff.high)}] (t, ${paired.length - 1} df).` : '',
  ].join('\n')
  const out = join(root, 'results')
  mkdirSync(out, { recursive: true })
  const base = join(out, `seeds-${tag}${torchTag}`)
  writeFileSync(`${base}.json`, JSON.stringify(result, null, 1))
  writeFileSync(`${base}.md`, md + '\n')
  console.log(`\n${md}\n\nwrote ${base}.json and .md`)
}

await main()
