import { describe, expect, it } from 'vitest'
import sharp from 'sharp'
import { lineChart } from './charts'

describe('lineChart', () => {
  it('draws each series, the marker and escapes text; sharp renders it', async () => {
    const svg = lineChart({
      title: 'a < b',
      xLabel: 'threshold',
      yLabel: 'score',
      series: [
        { name: 'IoU', color: '#123456', points: [[0.1, 0.2], [0.5, 0.8], [0.9, NaN]] },
        { name: 'TGS', color: '#654321', points: [[0.1, 0.1], [0.5, 0.7]] },
      ],
      markers: [{ x: 0.45, label: 'chosen 0.45', color: '#d62728' }],
    })
    expect(svg).toContain('a &lt; b')
    expect(svg.match(/<polyline/g)).toHaveLength(2)
    expect(svg).toContain('chosen 0.45')
    const meta = await sharp(Buffer.from(svg)).png().toBuffer().then((b) => sharp(b).metadata())
    expect([meta.width, meta.height]).toEqual([560, 320])
  })
})
