import { describe, expect, it } from 'vitest'
import { binarize, fillHoles, findComponents, postProcess, removeSmallComponents, unionBox } from './postprocess'
import { cutOut, maskBytes, overlay, toBytes } from './render'

/** A mask from rows of '#' (foreground) and '.' (background). */
function draw(...rows: string[]): { mask: Uint8Array; size: { width: number; height: number } } {
  const width = rows[0]!.length
  return { mask: Uint8Array.from(rows.join(''), (c) => (c === '#' ? 1 : 0)), size: { width, height: rows.length } }
}
const show = (mask: Uint8Array, width: number): string[] => Array.from({ length: mask.length / width }, (_, y) => Array.from(mask.subarray(y * width, (y + 1) * width), (v) => (v ? '#' : '.')).join(''))

describe('components', () => {
  const { mask, size } = draw(
    '##....#',
    '.#....#',
    '..#....',
    '.......',
    '####..#',
  )
  it('are 8-connected, with area and bounding box, in reading order', () => {
    const { components, labels } = findComponents(mask, size)
    expect(components).toEqual([
      { area: 4, box: { x: 0, y: 0, width: 3, height: 3 } }, // the diagonal step joins (2, 2)
      { area: 2, box: { x: 6, y: 0, width: 1, height: 2 } },
      { area: 4, box: { x: 0, y: 4, width: 4, height: 1 } },
      { area: 1, box: { x: 6, y: 4, width: 1, height: 1 } },
    ])
    expect(labels[2 * 7 + 2]).toBe(1)
    expect(unionBox(components.map((c) => c.box))).toEqual({ x: 0, y: 0, width: 7, height: 5 })
    expect(unionBox([])).toBeNull()
  })
  it('smaller than min area are removed', () => {
    expect(show(removeSmallComponents(mask, size, 3), 7)).toEqual(['##.....', '.#.....', '..#....', '.......', '####...'])
  })
})

describe('fillHoles', () => {
  it('fills enclosed background, not background that reaches the border or leaks through a gap', () => {
    const { mask, size } = draw(
      '#####..',
      '#...#..',
      '#####..',
      '.......',
      '###.###',
      '#.#.#..',
      '###.###',
    )
    expect(show(fillHoles(mask, size), 7)).toEqual(['#####..', '#####..', '#####..', '.......', '###.###', '###.#..', '###.###'])
  })
  it('keeps a hole whose background touches the outside diagonally only', () => {
    // 8-connected foreground closes the ring, so its inside is a hole even with a diagonal gap
    const { mask, size } = draw('.#.', '#.#', '.#.')
    expect(show(fillHoles(mask, size), 3)).toEqual(['.#.', '###', '.#.'])
  })
})

describe('postProcess', () => {
  it('thresholds strictly above, fills holes, then removes small components', () => {
    const probs = Float32Array.from([0.9, 0.9, 0.9, 0, 0.5, 0.9, 0.4, 0.9, 0.9, 0.9, 0, 0, 0.9, 0.9, 0.9, 0, 0.6])
    expect(Array.from(binarize(probs, 0.5))).toEqual([1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1])
    const { mask, size: s } = draw('###..', '#.#..', '###.#')
    const p = Float32Array.from(mask, (v) => v * 0.8)
    expect(show(postProcess(p, s, { threshold: 0.5 }), 5)).toEqual(['###..', '#.#..', '###.#'])
    expect(show(postProcess(p, s, { threshold: 0.5, fillHoles: true, minArea: 9 }), 5)).toEqual(['###..', '###..', '###..'])
    expect(show(postProcess(p, s, { threshold: 0.85 }), 5)).toEqual(['.....', '.....', '.....'])
    expect(() => postProcess(probs, { width: 4, height: 4 }, { threshold: 0.5 })).toThrow('postProcess: 17 values do not make a 4×4 mask')
  })
})

describe('render', () => {
  it('turns probabilities and masks into bytes', () => {
    expect(Array.from(toBytes([0, 0.5, 1, 2, -1, NaN]))).toEqual([0, 128, 255, 255, 0, 0])
    expect(Array.from(maskBytes([0, 1, 3]))).toEqual([0, 255, 255])
  })
  it('cuts the object out on white, cropped to the box', () => {
    // a 4×3 RGB image whose pixel (x, y) is (x/10, y/10, 1)
    const size = { width: 4, height: 3, channels: 3 }
    const image = Float32Array.from({ length: 36 }, (_, k) => {
      const p = Math.floor(k / 3)
      return [(p % 4) / 10, Math.floor(p / 4) / 10, 1][k % 3] as number
    })
    const { mask } = draw('....', '.##.', '..#.')
    const box = unionBox(findComponents(mask, { width: 4, height: 3 }).components.map((c) => c.box))!
    const crop = cutOut(image, size, mask, box)
    expect({ width: crop.width, height: crop.height, channels: crop.channels }).toEqual({ width: 2, height: 2, channels: 3 })
    expect(Array.from(crop.data)).toEqual([26, 26, 255, 51, 26, 255, 255, 255, 255, 51, 51, 255])
  })
  it('draws the mask over a grey image in colour, outline solid, inside tinted', () => {
    const { mask } = draw('###', '###', '###', '...')
    const image = new Float32Array(12).fill(0.5)
    const o = overlay(image, { width: 3, height: 4, channels: 1 }, mask, { colour: [255, 0, 0], opacity: 0.5 })
    const px = (x: number, y: number) => Array.from(o.data.subarray((y * 3 + x) * 3, (y * 3 + x) * 3 + 3))
    expect(px(0, 0)).toEqual([255, 0, 0]) // outline
    expect(px(1, 1)).toEqual([191, 64, 64]) // inside: half grey, half red
    expect(px(1, 3)).toEqual([128, 128, 128]) // background untouched
  })
})
