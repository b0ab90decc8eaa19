import { randomUUID } from 'node:crypto'
import { inspect } from 'node:util'
import { encodePng } from '@unet/data'
import sharp from 'sharp'
import { KernelError } from './errors'
import { renderPlotSvg, type PlotInput, type PlotOptions } from './plot'
import type { MimeBundle } from './protocol'

/**
 * Objects with this method show themselves as the returned MIME bundle when they are a cell's result
 * (or passed to `display(value)`).
 *
 * @example
 * ```ts
 * class Score { constructor(readonly v: number) {}
 *   [MIME_BUNDLE]() { return { 'text/html': `<b>${this.v}</b>`, 'text/plain': String(this.v) } } }
 * ```
 */
export const MIME_BUNDLE: unique symbol = Symbol.for('unet.notebook.mimeBundle') as never

/** Pixels the display helpers accept: a typed array or number array (with `height`/`width`), or a tfjs tensor. */
export type Pixels = ArrayLike<number> | TensorLike

/** The part of a tfjs tensor the helpers use (so this app does not need tfjs itself). */
export interface TensorLike {
  shape: number[]
  dataSync(): ArrayLike<number>
}

/** Size of raw pixel arrays; not needed for tensors. */
export interface PixelShape {
  height?: number
  width?: number
  /** 1 (gray) or 3 (RGB); default 1. */
  channels?: number
}

/** Options every helper takes. */
export interface DisplayOptions {
  /** A display id: show under this id, so a later call with `update: true` replaces the output in place. */
  id?: string
  /** Replace the output shown earlier under `id` (update_display_data) instead of adding one. */
  update?: boolean
  /** Pixel magnification (nearest neighbour); default: up to about 256 px on the long side. */
  scale?: number
}

/** Options of `display.overlay`. */
export interface OverlayOptions extends PixelShape, DisplayOptions {
  /** RGB of the mask (default red). */
  color?: [number, number, number]
  /** Opacity of the mask (default 0.45). */
  alpha?: number
  /** A second mask (e.g. a prediction) drawn in `predictionColor` (default blue). */
  prediction?: Pixels
  predictionColor?: [number, number, number]
}

/** One tile of `display.grid`: pixels, or an image with optional masks. */
export type GridItem = Pixels | { image?: Pixels; mask?: Pixels; prediction?: Pixels; label?: string }

/** Options of `display.grid`. */
export interface GridOptions extends PixelShape, DisplayOptions {
  /** Tiles per row (default: up to 8). */
  columns?: number
  /** Gap between tiles in source pixels (default 2). */
  gap?: number
  /** Overlay opacity for tiles with masks. */
  alpha?: number
}

/** Options of `display.plot`. */
export interface PlotDisplayOptions extends PlotOptions, DisplayOptions {
  /** `svg` (default) or `png` (rasterized by sharp). */
  format?: 'svg' | 'png'
}

/**
 * What a helper returns: the display id it used, to update that output later.
 *
 * @example
 * ```ts
 * const curve = await display.plot({ loss }, { id: 'loss' })
 * await display.plot({ loss }, { id: curve.id, update: true })
 * ```
 */
export class DisplayHandle {
  /**
   * @param id - the display id
   * @param sink - where updates go
   */
  constructor(
    readonly id: string,
    private readonly sink: DisplaySink,
  ) {}

  /**
   * Replaces the output with another MIME bundle or value.
   *
   * @param value - a MIME bundle (`{ 'text/plain': … }`) or any value
   * @returns this handle
   */
  update(value: unknown): DisplayHandle {
    this.sink.display(toBundle(value), {}, this.id, true)
    return this
  }

  [inspect.custom](): string {
    return `DisplayHandle(${this.id})`
  }
}

/**
 * @param value - anything
 * @returns whether it is a display handle (shown as nothing when it is a cell's result)
 * @example
 * ```ts
 * isDisplayHandle(await display.mask(mask)) // true
 * ```
 */
export function isDisplayHandle(value: unknown): value is DisplayHandle {
  return value instanceof DisplayHandle
}

/** Where display output goes (the kernel sends it as display_data / update_display_data). */
export interface DisplaySink {
  display(data: MimeBundle, metadata: Record<string, unknown>, displayId: string | undefined, update: boolean): void
  clear(wait: boolean): void
  /** Called with each pending render, so a cell does not end before its images are sent. */
  track?(pending: Promise<unknown>): void
}

/** The `display` global of notebook cells. Call it with any value, or use a helper. */
export interface Display {
  /** Shows any value (its rich form when it has one, else text). */
  (value: unknown, options?: DisplayOptions): Promise<DisplayHandle>
  /** A mask (0/1 or probabilities) as a grayscale PNG; a batch tensor `[n, h, w, 1]` as a grid. */
  mask(mask: Pixels, options?: GridOptions): Promise<DisplayHandle>
  /** An image (floats in [0, 1] or bytes) as a PNG; a batch tensor `[n, h, w, c]` as a grid. */
  image(image: Pixels, options?: GridOptions): Promise<DisplayHandle>
  /** An image with a mask (and optionally a prediction) blended over it. */
  overlay(image: Pixels, mask: Pixels, options?: OverlayOptions): Promise<DisplayHandle>
  /** Several images, masks or overlays in one PNG. */
  grid(items: GridItem[], options?: GridOptions): Promise<DisplayHandle>
  /** A line plot (loss curves, IoU vs threshold) as SVG (or PNG). */
  plot(input: PlotInput, options?: PlotDisplayOptions): Promise<DisplayHandle>
  html(html: string, options?: DisplayOptions): Promise<DisplayHandle>
  markdown(markdown: string, options?: DisplayOptions): Promise<DisplayHandle>
  svg(svg: string, options?: DisplayOptions): Promise<DisplayHandle>
  png(png: Uint8Array, options?: DisplayOptions): Promise<DisplayHandle>
  json(value: unknown, options?: DisplayOptions): Promise<DisplayHandle>
  /** Clears the cell's output (with `wait`, when the next output arrives). */
  clear(wait?: boolean): void
}

interface Raster {
  data: Float32Array
  height: number
  width: number
  channels: number
}

/**
 * Builds the `display` helpers over a sink.
 *
 * @param sink - receives each MIME bundle
 * @returns the `display` function with its helpers
 * @example
 * ```ts
 * const display = createDisplay({ display: (data) => console.log(Object.keys(data)), clear() {} })
 * await display.mask(new Uint8Array(16).fill(1), { height: 4, width: 4 })
 * ```
 */
export function createDisplay(sink: DisplaySink): Display {
  const show = async (bundle: MimeBundle | Promise<MimeBundle>, options: DisplayOptions = {}): Promise<DisplayHandle> => {
    const pending = Promise.resolve(bundle).then((data) => {
      const id = options.id ?? (options.update ? undefined : randomUUID())
      if (options.update && !options.id) throw new KernelError('BAD_DISPLAY_INPUT', 'update: true needs the id of the output to replace; pass { id, update: true }')
      sink.display(data, {}, id, options.update === true)
      return new DisplayHandle(id!, sink)
    })
    sink.track?.(pending)
    return pending
  }
  const display = ((value: unknown, options?: DisplayOptions) => show(toBundle(value), options)) as Display
  // A batch tensor ([n, h, w, c], n > 1, as createBatches yields) is shown as a grid of its images.
  display.mask = (mask, options = {}) =>
    isBatch(mask) ? display.grid(unbatch(mask), options) : show(pngBundle(toGray(raster(mask, options, 'mask')), options, 'mask'), options)
  display.image = (image, options = {}) =>
    isBatch(image) ? display.grid(unbatch(image), options) : show(pngBundle(toRgb(raster(image, options, 'image')), options, 'image'), options)
  display.overlay = (image, mask, options = {}) =>
    show(pngBundle(overlayRgb(raster(image, options, 'image'), raster(mask, options, 'mask'), options), options, 'overlay'), options)
  display.grid = (items, options = {}) => show(gridBundle(items, options), options)
  display.plot = (input, options = {}) => show(plotBundle(input, options), options)
  display.html = (html, options) => show({ 'text/html': html, 'text/plain': '<HTML>' }, options)
  display.markdown = (md, options) => show({ 'text/markdown': md, 'text/plain': md }, options)
  display.svg = (svg, options) => show({ 'image/svg+xml': svg, 'text/plain': '<SVG image>' }, options)
  display.png = (png, options) => show({ 'image/png': Buffer.from(png).toString('base64'), 'text/plain': '<PNG image>' }, options)
  display.json = (value, options) => show({ 'application/json': JSON.parse(JSON.stringify(value)) as unknown, 'text/plain': inspect(value, { depth: 4 }) }, options)
  display.clear = (wait = false) => sink.clear(wait)
  return display
}

function toBundle(value: unknown): MimeBundle {
  const rich = (value as { [MIME_BUNDLE]?: () => MimeBundle } | null)?.[MIME_BUNDLE]
  if (typeof rich === 'function') return rich.call(value)
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).some((k) => k.includes('/')) && Object.keys(value).every((k) => /^[\w.+-]+\/[\w.+-]+$/.test(k))) {
    return value as MimeBundle
  }
  return { 'text/plain': typeof value === 'string' ? value : inspect(value, { depth: 4 }) }
}

function isBatch(value: unknown): value is TensorLike {
  return isTensor(value) && value.shape.length === 4 && value.shape[0]! > 1
}

/** The images of a [n, h, w, c] tensor, each as its own tensor-like view. */
function unbatch(batch: TensorLike): TensorLike[] {
  const [n, h, w, c] = batch.shape as [number, number, number, number]
  const data = batch.dataSync()
  const size = h * w * c
  return Array.from({ length: n }, (_, i) => {
    const slice = ArrayBuffer.isView(data) ? (data as unknown as Float32Array).subarray(i * size, (i + 1) * size) : Array.prototype.slice.call(data, i * size, (i + 1) * size)
    return { shape: [h, w, c], dataSync: () => slice }
  })
}

function isTensor(value: unknown): value is TensorLike {
  return typeof (value as TensorLike)?.dataSync === 'function' && Array.isArray((value as TensorLike).shape)
}

/**
 * Reads pixels into a float raster in [0, 1] (values above 1 are taken as 0–255 bytes).
 *
 * @param pixels - typed array, number array or tensor
 * @param shape - height/width/channels for arrays
 * @param what - used in error messages
 * @returns the raster
 */
export function raster(pixels: Pixels, shape: PixelShape, what: string): Raster {
  let data: ArrayLike<number>
  let height: number | undefined
  let width: number | undefined
  let channels: number
  if (isTensor(pixels)) {
    const dims = pixels.shape.filter((d, i) => !(i === 0 && pixels.shape.length === 4 && d === 1))
    if (dims.length < 2 || dims.length > 3) {
      throw new KernelError('BAD_DISPLAY_INPUT', `${what} tensor has shape [${pixels.shape.join(', ')}]; expected [h, w], [h, w, c] or [1, h, w, c]`)
    }
    ;[height, width] = dims as [number, number]
    channels = dims[2] ?? 1
    data = pixels.dataSync()
  } else {
    data = pixels
    channels = shape.channels ?? 1
    height = shape.height
    width = shape.width
    if (height === undefined && width === undefined) {
      const side = Math.round(Math.sqrt(data.length / channels))
      if (side * side * channels === data.length) height = width = side
    } else if (height === undefined && width) height = data.length / channels / width
    else if (width === undefined && height) width = data.length / channels / height
  }
  if (!height || !width || !Number.isInteger(height) || !Number.isInteger(width) || height * width * channels !== data.length) {
    throw new KernelError(
      'BAD_DISPLAY_INPUT',
      `${what} has ${data.length} values, which does not fit height ${height ?? '?'} × width ${width ?? '?'} × ${channels} channel(s); pass { height, width } (TGS images are 101 × 101)`,
    )
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new KernelError('BAD_DISPLAY_INPUT', `${what} has ${channels} channels; only 1, 3 or 4 can be shown`)
  }
  const out = new Float32Array(data.length)
  let max = 0
  for (let i = 0; i < data.length; i++) if (data[i]! > max) max = data[i]!
  const scale = max > 1 ? 1 / 255 : 1
  for (let i = 0; i < data.length; i++) {
    const v = data[i]! * scale
    out[i] = v < 0 ? 0 : v > 1 ? 1 : Number.isNaN(v) ? 0 : v
  }
  return { data: out, height, width, channels }
}

function toRgb(r: Raster): Raster {
  if (r.channels === 3) return r
  const n = r.height * r.width
  const out = new Float32Array(n * 3)
  for (let i = 0; i < n; i++) {
    const v = r.data[i * r.channels]!
    if (r.channels === 1) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = v
    else for (let c = 0; c < 3; c++) out[i * 3 + c] = r.data[i * r.channels + c]!
  }
  return { data: out, height: r.height, width: r.width, channels: 3 }
}

function toGray(r: Raster): Raster {
  return toRgb(r.channels === 1 ? r : { ...r, data: r.data.filter((_, i) => i % r.channels === 0), channels: 1 })
}

function overlayRgb(image: Raster, mask: Raster, options: OverlayOptions): Raster {
  if (image.height !== mask.height || image.width !== mask.width) {
    throw new KernelError('BAD_DISPLAY_INPUT', `overlay: image is ${image.height}×${image.width} but mask is ${mask.height}×${mask.width}; they must match`)
  }
  const out = toRgb(image)
  const data = Float32Array.from(out.data)
  const blend = (m: Raster, color: [number, number, number]): void => {
    const alpha = options.alpha ?? 0.45
    for (let i = 0; i < m.height * m.width; i++) {
      const a = alpha * m.data[i * m.channels]!
      if (a === 0) continue
      for (let c = 0; c < 3; c++) data[i * 3 + c] = data[i * 3 + c]! * (1 - a) + (color[c]! / 255) * a
    }
  }
  blend(mask, options.color ?? [230, 25, 25])
  if (options.prediction !== undefined) {
    const prediction = raster(options.prediction, { height: image.height, width: image.width }, 'prediction')
    blend(prediction, options.predictionColor ?? [25, 90, 230])
  }
  return { ...out, data }
}

function autoScale(height: number, width: number, scale: number | undefined): number {
  return Math.max(1, Math.round(scale ?? Math.floor(256 / Math.max(height, width))))
}

/** An RGB raster as a PNG, each pixel drawn as a `scale × scale` block (the one PNG encoder, from @unet/data). */
function rasterPng(rgb: Raster, scale: number): Buffer {
  const width = rgb.width * scale
  const height = rgb.height * scale
  const out = new Float32Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / scale) * rgb.width
    for (let x = 0; x < width; x++) {
      const s = (row + Math.floor(x / scale)) * 3
      const o = (y * width + x) * 3
      out[o] = rgb.data[s]!
      out[o + 1] = rgb.data[s + 1]!
      out[o + 2] = rgb.data[s + 2]!
    }
  }
  return Buffer.from(encodePng(out, { width, height, channels: 3 }))
}

async function pngBundle(rgb: Raster, options: DisplayOptions, what: string): Promise<MimeBundle> {
  const png = rasterPng(rgb, autoScale(rgb.height, rgb.width, options.scale))
  return { 'image/png': png.toString('base64'), 'text/plain': `<${what} ${rgb.height}×${rgb.width}>` }
}

async function gridBundle(items: GridItem[], options: GridOptions): Promise<MimeBundle> {
  if (items.length === 0) throw new KernelError('BAD_DISPLAY_INPUT', 'grid: no items to show; pass at least one image or mask')
  const tiles = items.map((item, index) => {
    const what = `grid item ${index}`
    if (isTensor(item) || ArrayBuffer.isView(item) || Array.isArray(item)) return toRgb(raster(item as Pixels, options, what))
    const { image, mask, prediction } = item as Exclude<GridItem, Pixels>
    if (image !== undefined && mask !== undefined) return overlayRgb(raster(image, options, what), raster(mask, options, what), { ...options, ...(prediction === undefined ? {} : { prediction }) })
    const only = image ?? mask ?? prediction
    if (only === undefined) throw new KernelError('BAD_DISPLAY_INPUT', `${what} has no image, mask or prediction`)
    return toRgb(raster(only, options, what))
  })
  const h = Math.max(...tiles.map((t) => t.height))
  const w = Math.max(...tiles.map((t) => t.width))
  const columns = Math.max(1, Math.min(options.columns ?? 8, tiles.length))
  const rows = Math.ceil(tiles.length / columns)
  const gap = options.gap ?? 2
  const height = rows * h + (rows - 1) * gap
  const width = columns * w + (columns - 1) * gap
  const data = new Float32Array(height * width * 3).fill(1)
  tiles.forEach((tile, index) => {
    const top = Math.floor(index / columns) * (h + gap)
    const left = (index % columns) * (w + gap)
    for (let y = 0; y < tile.height; y++) {
      const src = y * tile.width * 3
      data.set(tile.data.subarray(src, src + tile.width * 3), ((top + y) * width + left) * 3)
    }
  })
  const png = rasterPng({ data, height, width, channels: 3 }, autoScale(h, w * Math.min(columns, 4) / 2, options.scale))
  const labels = items.map((item, i) => (item && typeof item === 'object' && 'label' in item && item.label ? item.label : `#${i}`))
  return { 'image/png': png.toString('base64'), 'text/plain': `<grid ${rows}×${columns}: ${labels.join(', ')}>` }
}

async function plotBundle(input: PlotInput, options: PlotDisplayOptions): Promise<MimeBundle> {
  const svg = renderPlotSvg(input, options)
  const text = `<plot${options.title ? ` "${options.title}"` : ''}>`
  if (options.format === 'png') {
    const png = await sharp(Buffer.from(svg)).png().toBuffer()
    return { 'image/png': png.toString('base64'), 'text/plain': text }
  }
  return { 'image/svg+xml': svg, 'text/plain': text }
}
