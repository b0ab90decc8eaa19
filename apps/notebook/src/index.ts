export { Kernel, KERNEL_INFO, type KernelOptions } from './kernel'
export { installKernelSpec, kernelSpec, kernelsDir, type InstallOptions, type KernelSpec } from './kernelspec'
export {
  createDisplay,
  DisplayHandle,
  isDisplayHandle,
  MIME_BUNDLE,
  type Display,
  type DisplayOptions,
  type DisplaySink,
  type GridItem,
  type GridOptions,
  type OverlayOptions,
  type Pixels,
  type PixelShape,
  type PlotDisplayOptions,
  type TensorLike,
} from './display'
export { renderPlotSvg, ticks, toSeries, type PlotInput, type PlotOptions, type PlotSeries } from './plot'
export { transformCell, CellSyntaxError, type TransformedCell } from './transform'
export { isComplete, type IsCompleteReply } from './complete'
export { KernelError, KeyboardInterrupt, type KernelErrorCode } from './errors'
export {
  decodeMessage,
  encodeMessage,
  endpoint,
  makeHeader,
  PROTOCOL_VERSION,
  readConnectionFile,
  Signer,
  type ConnectionInfo,
  type JupyterMessage,
  type MessageHeader,
} from './wire'
export type { MimeBundle } from './protocol'
