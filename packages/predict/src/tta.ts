import * as tf from '@tensorflow/tfjs-core'
import { PredictError } from './errors'

/**
 * The test-time augmentation views, declared once: the CLI's choices, help and errors read this list.
 * The plain view is always predicted; each listed view adds one more prediction to the average.
 */
export const TTA_VIEWS = {
  hflip: 'mirrored left-right (undone by mirroring back)',
  vflip: 'mirrored top-bottom (undone by mirroring back)',
  rot90: 'rotated a quarter turn counter-clockwise (undone by turning back; needs a square model input or one of any size)',
  blur: '3×3 box blur with reflected edges (nothing to undo)',
} as const

/** A test-time augmentation view. */
export type TtaView = keyof typeof TTA_VIEWS

/** The view names, in declaration order. */
export const TTA_VIEW_NAMES = Object.keys(TTA_VIEWS) as TtaView[]

/**
 * Parses a comma list of views (`hflip,blur`); `none` or an empty string is no extra view.
 *
 * @param list - the list as a user typed it
 * @returns the views, without duplicates, in the given order
 * @throws {PredictError} `BAD_OPTION` naming the unknown view and the valid ones
 * @example
 * ```ts
 * parseTtaViews('hflip,blur') // ['hflip', 'blur']
 * ```
 */
export function parseTtaViews(list: string): TtaView[] {
  if (list.trim() === '' || list.trim() === 'none') return []
  const views: TtaView[] = []
  for (const raw of list.split(',')) {
    const name = raw.trim()
    if (name === '') continue
    if (!(name in TTA_VIEWS)) {
      throw new PredictError('BAD_OPTION', `unknown TTA view "${name}"; use a comma list of ${TTA_VIEW_NAMES.join(', ')}, or none`)
    }
    if (!views.includes(name as TtaView)) views.push(name as TtaView)
  }
  return views
}

/** The view applied to a batch of images (NHWC). */
export function applyView(view: TtaView, x: tf.Tensor4D): tf.Tensor4D {
  switch (view) {
    case 'hflip':
      return tf.reverse(x, 2)
    case 'vflip':
      return tf.reverse(x, 1)
    case 'rot90':
      // counter-clockwise, as numpy's rot90: transpose rows and columns, then reverse the new rows
      return tf.reverse(tf.transpose(x, [0, 2, 1, 3]), 1)
    case 'blur': {
      const padded = tf.mirrorPad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], 'reflect')
      return tf.avgPool(padded, 3, 1, 'valid')
    }
  }
}

/** Undoes a view on the prediction made from it, so it lines up with the plain image again. */
export function undoView(view: TtaView, y: tf.Tensor4D): tf.Tensor4D {
  switch (view) {
    case 'hflip':
      return tf.reverse(y, 2)
    case 'vflip':
      return tf.reverse(y, 1)
    case 'rot90':
      return tf.transpose(tf.reverse(y, 1), [0, 2, 1, 3])
    case 'blur':
      return y
  }
}
