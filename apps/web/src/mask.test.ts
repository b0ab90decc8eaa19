import { expect, it } from 'vitest'
import { countAbove, MASK_COLOUR, maskAt, maskRle, paintView, PROBABILITY_COLOURS, submissionId } from './mask'

const tgs = { rle: { order: 'column-major' as const, idColumn: 'id', idSuffix: '' } }
const carvana = { rle: { order: 'row-major' as const, idColumn: 'img', idSuffix: '.jpg' } }

it('thresholds strictly above, as unet predict does, and counts coverage', () => {
  const p = Float32Array.from([0.2, 0.5, 0.51, 0.9])
  expect(Array.from(maskAt(p, 0.5).mask)).toEqual([0, 0, 1, 1])
  expect(maskAt(p, 0.5).count).toBe(2)
  expect(countAbove(p, 0.1)).toBe(4)
})

it("encodes RLE in the run's pixel order and names ids in its convention", () => {
  // 2 × 3, row-major: 1 1 0 / 1 0 0
  const mask = Uint8Array.from([1, 1, 0, 1, 0, 0])
  expect(maskRle(mask, { width: 3, height: 2 }, tgs)).toBe('1 3')
  expect(maskRle(mask, { width: 3, height: 2 }, carvana)).toBe('1 2 4 1')
  expect(submissionId('0a1b2c.png', tgs)).toBe('0a1b2c')
  expect(submissionId('car_01.jpg', carvana)).toBe('car_01.jpg')
  expect(submissionId('car_01.png', carvana)).toBe('car_01.jpg')
})

it('paints the mask half-transparent over nothing else, and the probability scale opaque', () => {
  const p = Float32Array.from([0, 1, 0.2, 0.8]) // 2 × 2
  const out = new Uint8ClampedArray(4 * 4)
  paintView(out, { width: 2, height: 2 }, p, { width: 2, height: 2 }, 'mask', 0.5)
  expect(Array.from(out.slice(0, 8))).toEqual([0, 0, 0, 0, ...MASK_COLOUR, 128])
  paintView(out, { width: 2, height: 2 }, p, { width: 2, height: 2 }, 'probability', 0.5)
  expect(Array.from(out.slice(4, 8))).toEqual([...PROBABILITY_COLOURS.slice(255 * 3, 256 * 3), 255])
  // a 1 × 1 view samples the nearest source pixel (the centre of 2 × 2 rounds to the bottom right)
  const one = new Uint8ClampedArray(4)
  paintView(one, { width: 1, height: 1 }, p, { width: 2, height: 2 }, 'mask', 0.5)
  expect(one[3]).toBe(128)
})
