import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { createDisplay, raster, type DisplaySink } from './display'
import { renderPlotSvg, ticks, toSeries } from './plot'
import type { MimeBundle } from './protocol'

function recorder() {
  const shown: { data: MimeBundle; id: string | undefined; update: boolean }[] = []
  const sink: DisplaySink = { display: (data, _m, id, update) => shown.push({ data, id, update }), clear: () => {} }
  return { display: createDisplay(sink), shown }
}

async function pixels(bundle: MimeBundle) {
  const { data, info } = await sharp(Buffer.from(String(bundle['image/png']), 'base64')).raw().toBuffer({ resolveWithObject: true })
  return { at: (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)], info }
}

describe('display helpers', () => {
  it('draws a mask as a grayscale PNG, magnified by scale', async () => {
    const { display, shown } = recorder()
    const mask = new Uint8Array(3 * 2)
    mask[1] = 1 // row 0, column 1
    await display.mask(mask, { height: 3, width: 2, scale: 2 })
    const png = await pixels(shown[0]!.data)
    expect([png.info.width, png.info.height]).toEqual([4, 6])
    expect(png.at(2, 0)).toEqual([255, 255, 255])
    expect(png.at(3, 1)).toEqual([255, 255, 255])
    expect(png.at(0, 0)).toEqual([0, 0, 0])
    expect(shown[0]!.data['text/plain']).toBe('<mask 3×2>')
  })
  it('blends the mask over the image in the overlay and takes tensor-like input', async () => {
    const { display, shown } = recorder()
    const image = { shape: [1, 2, 2, 1], dataSync: () => new Float32Array([0.5, 0.5, 0.5, 0.5]) }
    await display.overlay(image, new Uint8Array([1, 0, 0, 0]), { scale: 1, alpha: 0.5, color: [255, 0, 0] })
    const png = await pixels(shown[0]!.data)
    // 0.5 gray mixed half-and-half with red; untouched pixels stay gray.
    expect(png.at(0, 0)).toEqual([191, 64, 64])
    expect(png.at(1, 0)).toEqual([128, 128, 128])
  })
  it('lays out a grid of tiles with gaps', async () => {
    const { display, shown } = recorder()
    const white = new Float32Array(4).fill(1)
    const black = new Float32Array(4)
    await display.grid([black, white, black], { height: 2, width: 2, columns: 2, gap: 1, scale: 1 })
    const png = await pixels(shown[0]!.data)
    expect([png.info.width, png.info.height]).toEqual([5, 5])
    expect(png.at(0, 0)).toEqual([0, 0, 0])
    expect(png.at(3, 0)).toEqual([255, 255, 255])
    expect(png.at(0, 3)).toEqual([0, 0, 0])
    expect(shown[0]!.data['text/plain']).toBe('<grid 2×2: #0, #1, #2>')
  })
  it('shows a batch tensor as a grid of its images', async () => {
    const { display, shown } = recorder()
    // Two 1×2 masks: [[1, 0]] and [[0, 1]].
    await display.mask({ shape: [2, 1, 2, 1], dataSync: () => new Float32Array([1, 0, 0, 1]) }, { columns: 2, gap: 1, scale: 1 })
    expect(shown[0]!.data['text/plain']).toBe('<grid 1×2: #0, #1>')
    const png = await pixels(shown[0]!.data)
    expect([png.info.width, png.info.height]).toEqual([5, 1])
    expect([png.at(0, 0), png.at(1, 0), png.at(3, 0), png.at(4, 0)]).toEqual([[255, 255, 255], [0, 0, 0], [0, 0, 0], [255, 255, 255]])
  })
  it('updates an output in place by display id', async () => {
    const { display, shown } = recorder()
    const handle = await display.plot([1, 2], { id: 'curve' })
    await display.plot([1, 2, 3], { id: handle.id, update: true })
    handle.update({ 'text/plain': 'done' })
    expect(shown.map((s) => [s.id, s.update])).toEqual([['curve', false], ['curve', true], ['curve', true]])
    await expect(display.plot([1], { update: true })).rejects.toThrow(/needs the id/)
  })
  it('says what is wrong with pixels that do not fit', () => {
    expect(() => raster(new Float32Array(10), { height: 3, width: 3 }, 'image')).toThrow(/10 values, which does not fit height 3 × width 3/)
    expect(() => raster({ shape: [2, 2, 2, 2], dataSync: () => new Float32Array(16) }, {}, 'mask')).toThrow(/shape \[2, 2, 2, 2\]/)
    // A square array needs no shape.
    expect(raster(new Uint8Array(101 * 101), {}, 'mask')).toMatchObject({ height: 101, width: 101 })
  })
})

describe('plots', () => {
  it('accepts arrays, series and named arrays', () => {
    expect(toSeries([1, 2])).toEqual([{ y: [1, 2] }])
    expect(toSeries({ loss: [1], val: [2] }).map((s) => s.label)).toEqual(['loss', 'val'])
  })
  it('picks round ticks', () => {
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1])
    expect(ticks(0.13, 0.91, 5)).toEqual([0.2, 0.4, 0.6, 0.8])
    expect(ticks(0, 95, 6)).toEqual([0, 20, 40, 60, 80])
  })
  it('draws one path per series, a legend and escaped labels', async () => {
    const svg = renderPlotSvg([{ y: [0, 1, 0.5], label: 'a<b' }, { x: [0, 2], y: [1, 0], label: 'c' }], { title: 'IoU & threshold', xLabel: 'threshold' })
    expect(svg.match(/<path /g)?.length).toBe(2)
    expect(svg).toContain('a&#60;b')
    expect(svg).toContain('IoU &#38; threshold')
    // A NaN breaks the line rather than drawing to a bogus point.
    expect(renderPlotSvg([1, Number.NaN, 2])).toMatch(/d="M[^"]*M[^"]*"/)
    // Well-formed enough for librsvg to rasterize.
    const png = await sharp(Buffer.from(svg)).png().toBuffer()
    expect(png.length).toBeGreaterThan(100)
  })
})
