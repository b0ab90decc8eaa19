import { describe, expect, it } from 'vitest'
import { parseShard, partPath, shardFromEnv, shardOf } from './shard'
import { submissionFormat } from './convention'

describe('shards', () => {
  it('parse I/N from 0 and refuse the rest in one line', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 })
    expect(() => parseShard('3/2')).toThrow('shard "3/2": the index must be 0…1 (shards are numbered from 0, as JOB_COMPLETION_INDEX)')
    expect(() => parseShard('3/3')).toThrow(/index must be 0…2/)
    for (const bad of ['1/0', 'a/b', '1', '-1/2', '1.5/3']) expect(() => parseShard(bad)).toThrow(expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringMatching(/is not I\/N/) }))
  })

  it('come from an Indexed Job environment', () => {
    expect(shardFromEnv({})).toBeNull()
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: '', JOB_COMPLETIONS: '' })).toBeNull()
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: '1', JOB_COMPLETIONS: '4' })).toEqual({ index: 1, count: 4 })
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: '1' })).toThrow(/JOB_COMPLETIONS is unset: set both/)
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: '4', JOB_COMPLETIONS: '4' })).toThrow(/index must be 0…3/)
  })

  it('split ids stably and about evenly', () => {
    const ids = Array.from({ length: 3000 }, (_, i) => `img_${i.toString(16).padStart(6, '0')}`)
    const counts = [0, 0, 0]
    for (const id of ids) counts[shardOf(id, 3)]!++
    for (const c of counts) expect(c).toBeGreaterThan(900)
    // FNV-1a's published values pin the hash: a change would move ids between shards of runs already started
    expect(shardOf('', 7)).toBe(0x811c9dc5 % 7)
    expect(shardOf('a', 2 ** 32 - 1)).toBe(0xe40c292c % (2 ** 32 - 1))
    expect(shardOf('foobar', 2 ** 32 - 1)).toBe(0xbf9cf968 % (2 ** 32 - 1))
  })

  it('name part files before the extensions', () => {
    expect(partPath('out/submission.csv.gz', { index: 1, count: 3 })).toBe('out/submission.part-1-of-3.csv.gz')
    expect(partPath('sub', { index: 0, count: 2 })).toBe('sub.part-0-of-2')
    expect(partPath('a.b/boxes.jsonl', { index: 0, count: 2 })).toBe('a.b/boxes.part-0-of-2.jsonl')
  })
})

describe('submissionFormat', () => {
  it('follows run.json, with overrides', () => {
    const carvana = { rle: { order: 'row', idColumn: 'img', idSuffix: '.jpg' } } as const
    expect(submissionFormat(carvana)).toEqual({ order: 'row-major', idColumn: 'img', idSuffix: '.jpg' })
    expect(submissionFormat(carvana, { order: 'column', idColumn: 'id' })).toEqual({ order: 'column-major', idColumn: 'id', idSuffix: '.jpg' })
  })
})
