export { NATIVE_CONV_KERNELS, nativeGeometry, registerNativeConvKernels, unregisterNativeConvKernels } from './native-conv-kernels'
export type { NativeConvAddon } from './native-conv-kernels'
export { startNativeConv, NATIVE_PACKAGE } from './start'
export type { NativeStart } from './start'
