import { describe, expect, it } from 'vitest'
import { byCoverageClass, foregroundName, gridFrameSvg, pickShowcase, renderStrip } from './report'

describe('pickShowcase', () => {
  it('spreads the picks over coverage classes, sorted by class', () => {
    expect(pickShowcase([0, 0, 0, 0, 5, 10, 10], 4)).toEqual([0, 1, 4, 5])
    expect(pickShowcase([3, 1], 12)).toEqual([1, 0])
  })
})

describe('renderStrip', () => {
  it('draws image, truth, prediction and an overlay coloured by agreement', () => {
    // 1×4 image: pixel 0 both salt, 1 truth only, 2 prediction only, 3 neither
    const strip = renderStrip({
      id: 'a',
      image: new Float32Array([0.5, 0.5, 0.5, 0.5]),
      truth: new Uint8Array([1, 1, 0, 0]),
      probabilities: new Float32Array([0.9, 0.1, 0.9, 0.1]),
      height: 1,
      width: 4,
      threshold: 0.5,
    })
    expect([strip.width, strip.height]).toEqual([4 * 4 + 3 * 3, 1])
    const px = (tile: number, x: number): number[] => Array.from(strip.data.subarray((tile * 7 + x) * 4, (tile * 7 + x) * 4 + 3))
    expect(px(0, 0)).toEqual([128, 128, 128])
    expect([px(1, 0), px(1, 2)]).toEqual([[255, 255, 255], [0, 0, 0]])
    expect([px(2, 0), px(2, 1)]).toEqual([[255, 255, 255], [0, 0, 0]])
    const [both, missed, wrong, none] = [0, 1, 2, 3].map((x) => px(3, x)) as number[][]
    expect(both![0]).toBe(both![1]) // yellow: red = green > blue
    expect(both![0]).toBeGreaterThan(both![2]!)
    expect(missed![1]).toBeGreaterThan(missed![0]!) // green
    expect(wrong![0]).toBeGreaterThan(wrong![1]!) // red
    expect(none).toEqual([128, 128, 128])
  })
})

describe('gridFrameSvg', () => {
  it('titles every tile column of every strip and keys the overlay colours', () => {
    const { svg, top, height } = gridFrameSvg({ width: 1668, gridHeight: 1292, tileWidth: 202, tileGap: 6, stripGap: 16, columns: 2, threshold: 0.45 })
    for (const title of ['image', 'true mask', 'predicted mask', 'overlay']) expect(svg.split(`>${title}</text>`)).toHaveLength(3)
    for (const word of ['yellow', 'green', 'red', 'threshold 0.45']) expect(svg).toContain(word)
    expect(top).toBeGreaterThan(0)
    expect(height).toBeGreaterThan(top + 1292)
    // a narrow grid (one strip) wraps the key onto more lines instead of cutting it off
    expect(gridFrameSvg({ width: 400, gridHeight: 100, tileWidth: 94, tileGap: 6, stripGap: 16, columns: 1, threshold: 0.5 }).height).toBeGreaterThan(top + 100 + 8 + 22)
  })
})

describe('the colour key names the foreground of the data', () => {
  it('salt on TGS and synthetic data, car on Carvana, foreground on folder pairs', () => {
    expect([foregroundName('tgs'), foregroundName('synthetic'), foregroundName('carvana'), foregroundName('folders')]).toEqual(['salt', 'salt', 'car', 'foreground'])
    const frame = (foreground: string) => gridFrameSvg({ width: 1668, gridHeight: 100, tileWidth: 202, tileGap: 6, stripGap: 16, columns: 2, threshold: 0.5, foreground }).svg
    expect(frame('car')).toContain('green: car missed (truth only)')
    expect(frame('car')).not.toContain('salt')
    expect(frame('salt')).toContain('red: false salt (prediction only)')
  })
})

describe('byCoverageClass', () => {
  it('averages per-image scores by class, classes in order', () => {
    const images = [
      { tgs: 1, iou: 1, dice: 1 },
      { tgs: 0.5, iou: 0.6, dice: 0.7 },
      { tgs: 0, iou: 0.2, dice: 0.3 },
    ]
    expect(byCoverageClass(images, [3, 0, 3])).toEqual([
      { coverageClass: 0, count: 1, tgs: 0.5, iou: 0.6, dice: 0.7 },
      { coverageClass: 3, count: 2, tgs: 0.5, iou: 0.6, dice: 0.65 },
    ])
  })
})
