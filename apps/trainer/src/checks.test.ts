import { describe, expect, it } from 'vitest'
import { checkMonitor, unproducibleMonitors } from './checks'

const withClasses = (coverageClasses: number[]) => ({ validation: { count: coverageClasses.length, coverageClasses } }) as never

describe('monitors the data cannot produce', () => {
  it('every monitor works when some validation mask has foreground', () => {
    expect(unproducibleMonitors(withClasses([0, 0, 3]))).toEqual([])
    expect(() => checkMonitor('val_tgs', withClasses([0, 1]), 'data/x')).not.toThrow()
  })

  it('with no foreground in any validation mask only val_loss can judge; the others are refused in one line', () => {
    const data = withClasses([0, 0, 0])
    expect(unproducibleMonitors(data).map((p) => p.monitor)).toEqual(['val_tgs', 'val_dice', 'val_iou', 'val_pixel_accuracy'])
    expect(() => checkMonitor('val_loss', data, 'data/x')).not.toThrow()
    let message = ''
    try {
      checkMonitor('val_dice', data, 'data/empty-masks')
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toBe(
      '--monitor val_dice cannot judge data/empty-masks: its validation masks (3) have no foreground pixel, so predicting nothing scores 1 and no model can beat it; use --monitor val_loss, or give masks with foreground (another --seed or --val-split moves images into validation)',
    )
    expect(message.split('\n')).toHaveLength(1)
  })
})
