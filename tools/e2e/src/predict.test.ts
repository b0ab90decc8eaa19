import { execFileSync, spawn } from 'node:child_process'
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { gunzipSync } from 'node:zlib'
import sharp from 'sharp'
import { decode, parseSubmission } from '@unet/rle'
import { beforeAll, describe, expect, it } from 'vitest'
import { brightnessRun, carvanaFixture, iou, whaleFixture } from './predict-fixtures'

const cli = resolve(import.meta.dirname, '../../../apps/trainer/dist/cli.js')
const work = mkdtempSync(join(tmpdir(), 'unet-e2e-predict-'))

/** Runs the built CLI; a run that hangs is killed after `seconds` and fails the test (no orphan left behind). */
function unet(args: string[], env: Record<string, string> = {}, seconds = 120): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: work, env: { ...process.env, UNET_DEBUG: '', JOB_COMPLETION_INDEX: '', JOB_COMPLETIONS: '', ...env } })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      fail(new Error(`unet ${args.join(' ')} did not finish in ${seconds} s (killed)`))
    }, seconds * 1000)
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('error', fail)
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr })
    })
  })
}

const problems = (stderr: string): string => stderr.replace(/\n?=+\nHi, looks like you are running TensorFlow\.js in Node\.js[^\n]*\n=+\n/g, '').trim()

const carvana = join(work, 'carvana')
const carvanaRun = join(work, 'runs', 'carvana')
let carvanaTruth: Awaited<ReturnType<typeof carvanaFixture>>

beforeAll(async () => {
  carvanaTruth = await carvanaFixture(carvana)
  // Carvana conventions: row-major RLE, `img` column, ids with .jpg; the model sees 64×48 RGB
  await brightnessRun(carvanaRun, { width: 64, height: 48, channels: 3, rle: { order: 'row', idColumn: 'img', idSuffix: '.jpg' }, layout: 'carvana' })
})

describe('unet predict on a Carvana-layout dataset', () => {
  it('writes a row-major .csv.gz in sample_submission order that reads back to the masks at each photo\'s size', async () => {
    const out = join(work, 'carvana.csv.gz')
    const r = await unet(['predict', '--model', carvanaRun, '--data', carvana, '--out', out, '--tta', 'hflip', '--chunk-size', '4'])
    expect(problems(r.stderr)).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^predicted 6 images of .*carvana .*wrote .*carvana\.csv\.gz \(6 rows\)/)
    const text = gunzipSync(readFileSync(out)).toString('utf8')
    expect(text.split('\n')[0]).toBe('img,rle_mask')
    const rows = parseSubmission(text, { columns: ['img', 'rle_mask'] })
    expect(rows.map((row) => row.id)).toEqual(carvanaTruth.sampleOrder)
    for (const row of rows) {
      const truth = carvanaTruth.masks.get(row.id)!
      const mask = decode(row.rleMask, { height: truth.height, width: truth.width }, { order: 'row-major' })
      // resized to 64×48 and back: the ellipse's edge moves by a pixel at most
      expect(iou(mask, truth.mask), row.id).toBeGreaterThan(0.9)
      // read column-major it would be another shape: the order matters and is right
      expect(iou(decode(row.rleMask, { height: truth.height, width: truth.width }), truth.mask), row.id).toBeLessThan(0.5)
    }
  })

  it('splits into 3 shards in 3 processes (Indexed Job variables) that merge into the very file of one run', async () => {
    const single = join(work, 'single.csv.gz')
    expect((await unet(['predict', '--model', carvanaRun, '--data', carvana, '--out', single])).code).toBe(0)
    const parts = join(work, 'parts')
    const runs = await Promise.all([0, 1, 2].map((i) => unet(['predict', '--model', carvanaRun, '--data', carvana, '--out', join(parts, 'sub.csv.gz')], { JOB_COMPLETION_INDEX: String(i), JOB_COMPLETIONS: '3' })))
    for (const [i, r] of runs.entries()) {
      expect(problems(r.stderr), `shard ${i}`).toBe('')
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(`(shard ${i}/3)`)
    }
    const files = readdirSync(parts).sort()
    expect(files).toEqual(['sub.part-0-of-3.csv.gz', 'sub.part-1-of-3.csv.gz', 'sub.part-2-of-3.csv.gz'])
    const counts = files.map((f) => parseSubmission(gunzipSync(readFileSync(join(parts, f))).toString(), { columns: ['img', 'rle_mask'] }).length)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(6)
    const merged = join(work, 'merged.csv.gz')
    const m = await unet(['merge-submissions', ...files.map((f) => join(parts, f)), '--out', merged, '--data', carvana])
    expect(problems(m.stderr)).toBe('')
    expect(m.stdout).toMatch(/merged 3 parts into .*merged\.csv\.gz: 6 rows, every test id once/)
    expect(gunzipSync(readFileSync(merged)).toString()).toBe(gunzipSync(readFileSync(single)).toString())

    // a missing part is refused by name, and nothing is written
    const refused = await unet(['merge-submissions', join(parts, files[0]!), join(parts, files[1]!), '--out', join(work, 'partial.csv'), '--data', carvana])
    expect(refused.code).toBe(1)
    expect(problems(refused.stderr)).toMatch(/^unet: error: cannot merge 2 part\(s\) into .*partial\.csv: \d id\(s\) missing: .*\.jpg/)
    expect(problems(refused.stderr).split('\n')).toHaveLength(1)
    expect(existsSync(join(work, 'partial.csv'))).toBe(false)
  })

  it('writes to standard output with --out -, and into a FIFO without replacing it (issue 17 F2)', async () => {
    const r = await unet(['predict', '--model', carvanaRun, '--data', carvana, '--out', '-', '--quiet'])
    expect(r.code).toBe(0)
    expect(parseSubmission(r.stdout, { columns: ['img', 'rle_mask'] }).map((row) => row.id)).toEqual(carvanaTruth.sampleOrder)
    expect(r.stderr).toMatch(/predicted 6 images/)

    const fifo = join(work, 'pipe.csv')
    execFileSync('mkfifo', [fifo])
    const reader = new Promise<string>((done, fail) => {
      let text = ''
      createReadStream(fifo, 'utf8').on('data', (d) => (text += d)).on('end', () => done(text)).on('error', fail)
    })
    const f = await unet(['predict', '--model', carvanaRun, '--data', carvana, '--out', fifo])
    expect(f.code).toBe(0)
    expect(parseSubmission(await reader, { columns: ['img', 'rle_mask'] })).toHaveLength(6)
    expect(execFileSync('stat', ['-c', '%F', fifo]).toString().trim()).toBe('fifo')
  })
})

describe('unet predict and evaluate on a whale-fluke folder', () => {
  it('writes masks at each photo\'s size, cut-outs on white cropped to the fluke, and boxes', async () => {
    const whales = join(work, 'whales')
    const truth = await whaleFixture(whales)
    // whale-fluke runs take 384×192 (here 64×32), wide like the photos
    const run = await brightnessRun(join(work, 'runs', 'whales'), { width: 64, height: 32, channels: 3 })
    const out = join(work, 'whale-out')
    const r = await unet([
      'predict', '--model', run, '--images', join(whales, 'images'), '--tta', 'hflip,blur',
      '--masks-out', join(out, 'masks'), '--crops-out', join(out, 'crops'), '--boxes', join(out, 'boxes.jsonl'), '--overlays-out', join(out, 'overlays'),
    ])
    expect(problems(r.stderr)).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/wrote .*boxes\.jsonl, 4 masks, 4 overlays, 4 cut-outs/)
    const boxes = readFileSync(join(out, 'boxes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; width: number; height: number; components: { area: number; x: number; y: number; width: number; height: number }[] })
    expect(boxes.map((b) => b.id).sort()).toEqual([...truth.keys()].sort())
    for (const b of boxes) {
      const t = truth.get(b.id)!
      expect({ width: b.width, height: b.height }).toEqual({ width: t.width, height: t.height })
      expect(b.components).toHaveLength(1)
      const file = join(out, 'masks', `${b.id}.png`)
      expect(await sharp(file).metadata()).toMatchObject({ width: t.width, height: t.height, channels: 1, format: 'png' })
      const mask = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true })
      expect(iou(mask.data.map((v) => (v > 127 ? 1 : 0)), t.mask), b.id).toBeGreaterThan(0.85)
      expect(new Set(mask.data)).toEqual(new Set([0, 255]))
      // the cut-out: the fluke's bounding box (at the looser 0.25 threshold, so no smaller), white around the fluke
      const crop = await sharp(join(out, 'crops', `${b.id}.png`)).raw().toBuffer({ resolveWithObject: true })
      const box = b.components[0]!
      expect(crop.info.width).toBeGreaterThanOrEqual(box.width)
      expect(crop.info.width).toBeLessThanOrEqual(box.width + 4)
      expect(crop.info.height).toBeGreaterThanOrEqual(box.height)
      expect(crop.info.height).toBeLessThanOrEqual(box.height + 4)
      expect(Array.from(crop.data.subarray(0, 3))).toEqual([255, 255, 255]) // a corner of an ellipse's box is background
      const centre = ((crop.info.height >> 1) * crop.info.width + (crop.info.width >> 1)) * 3
      expect(crop.data[centre]).toBeGreaterThan(200)
      expect(crop.data[centre + 2]).toBeLessThan(240) // the fluke's colour, not white
    }

    const scores = join(work, 'whale-scores.csv')
    const e = await unet(['evaluate', '--model', run, '--data', whales, '--mask-threshold', '108', '--per-image', scores, '--tta', 'hflip'])
    expect(problems(e.stderr)).toBe('')
    expect(e.code).toBe(0)
    expect(e.stdout).toMatch(/^4 images of .*whales \(folders\) at threshold 0\.50: Dice 0\.9\d+, IoU 0\.\d+, pixel accuracy 0\.9\d+/)
    expect(e.stdout).toContain('threshold sweep (best by dice')
    const lines = readFileSync(scores, 'utf8').trim().split('\n')
    expect(lines[0]).toBe('id,dice,iou,pixel_accuracy,true_pixels,predicted_pixels')
    const dice = lines.slice(1).map((l) => Number(l.split(',')[1]))
    expect(dice).toEqual([...dice].sort((a, b) => a - b)) // worst first
  })
})

describe('bad input gives one line and a non-zero exit code', () => {
  it('for shards, channels, unreadable images, run versions and outputs', async () => {
    const greyRun = await brightnessRun(join(work, 'runs', 'grey'), { width: 32, height: 32, channels: 1 })
    const newer = join(work, 'runs', 'newer')
    mkdirSync(newer, { recursive: true })
    writeFileSync(join(newer, 'run.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(greyRun, 'run.json'), 'utf8')), version: 3 }))
    const broken = join(work, 'broken')
    mkdirSync(broken)
    writeFileSync(join(broken, 'a.png'), new Uint8Array(0))
    const out = join(work, 'bad-out.csv')
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [['predict', '--model', carvanaRun, '--data', carvana, '--out', out, '--shard', '3/2'], /shard "3\/2": the index must be 0…1/],
      [['predict', '--model', carvanaRun, '--data', carvana, '--out', out], /JOB_COMPLETION_INDEX=5 and JOB_COMPLETIONS=3 do not make a shard/, { JOB_COMPLETION_INDEX: '5', JOB_COMPLETIONS: '3' }],
      [['predict', '--model', greyRun, '--data', carvana, '--out', out], /\.jpg is a colour image but the run's model takes grey images/],
      [['predict', '--model', greyRun, '--images', broken, '--out', out], /a\.png .*nothing was written: fix or remove the file, or pass --skip-unreadable/],
      [['predict', '--model', newer, '--images', broken, '--out', out], /run\.json has run format version 3, newer than the 2/],
      [['predict', '--model', carvanaRun, '--data', carvana, '--out', out, '--tta', 'hflip,flop'], /unknown TTA view "flop"/],
      [['predict', '--model', carvanaRun, '--data', carvana], /nothing to write: give --out/],
      [['predict', '--model', carvanaRun, '--data', carvana, '--masks-out', join(work, 'carvana.csv.gz', 'masks')], /cannot create the folder .*carvana\.csv\.gz\/masks: a file is in the way/],
      // Node's recursive mkdir never returns here: the folder must be refused at once, before predicting
      [['predict', '--model', carvanaRun, '--data', carvana, '--masks-out', '/proc/unet-masks'], /cannot create the folder \/proc\/unet-masks: \/proc takes no new folders/],
    ]
    // independent failures: run them side by side
    const results = await Promise.all(cases.map(([args, , env]) => unet(args, env)))
    for (const [k, [args, message]] of cases.entries()) {
      const r = results[k]!
      expect(r.code, args.join(' ')).not.toBe(0)
      const lines = problems(r.stderr).split('\n').filter((l) => !l.startsWith('(run with --help'))
      expect(lines, args.join(' ')).toHaveLength(1)
      expect(lines[0], args.join(' ')).toMatch(message)
    }
    expect(existsSync(out)).toBe(false)
    // with --skip-unreadable the rest is predicted and the skipped file named
    writeFileSync(join(broken, 'b.png'), readFileSync(join(carvana, 'test', readdirSync(join(carvana, 'test'))[0]!)))
    const skipped = await unet(['predict', '--model', greyRun, '--images', broken, '--out', out, '--skip-unreadable', '--threshold', '0.3'])
    expect(skipped.code).toBe(1) // b.png is a colour JPEG named .png: refused for the grey model
    const grey = join(work, 'grey-images')
    mkdirSync(grey)
    writeFileSync(join(grey, 'bad.png'), 'not a png')
    await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 200, g: 200, b: 200 } } }).toColourspace('b-w').png().toFile(join(grey, 'ok.png'))
    const ok = await unet(['predict', '--model', greyRun, '--images', grey, '--out', out, '--skip-unreadable'])
    expect(problems(ok.stderr)).toMatch(/^1 file\(s\) skipped:\n  .*bad\.png: /)
    expect(ok.code).toBe(0)
    expect(parseSubmission(readFileSync(out, 'utf8')).map((row) => row.id)).toEqual(['ok'])
  })
})

describe('examples/k8s/predict-job.yaml', () => {
  it('is an Indexed Job whose shard count, arguments and merge agree with the command', async () => {
    const { loadAll } = await import('js-yaml')
    type Container = { command: string[]; args: string[]; env?: { name: string; value: string }[] }
    type Job = { kind: string; metadata: { name: string }; spec: { completionMode?: string; completions?: number; template: { spec: { containers: Container[] } } } }
    const docs = loadAll(readFileSync(resolve(import.meta.dirname, '../../../examples/k8s/predict-job.yaml'), 'utf8')) as Job[]
    const [predict, merge] = docs as [Job, Job]
    expect(predict.spec.completionMode).toBe('Indexed')
    const container = predict.spec.template.spec.containers[0]!
    expect(container.command).toEqual(['unet', 'predict'])
    expect(container.env).toContainEqual({ name: 'JOB_COMPLETIONS', value: String(predict.spec.completions) })
    const help = (await unet(['predict', '--help'])).stdout
    for (const arg of container.args) expect(help, arg).toContain(arg.split('=')[0]!)
    expect(merge.spec.template.spec.containers[0]!.args.join('\n')).toContain(`submission.part-*-of-${predict.spec.completions}.csv.gz`)
    expect((await unet(['merge-submissions', '--help'])).stdout).toContain('--data <dir>')
  })
})
