import * as tfl from '@tensorflow/tfjs-layers'
import type { SymbolicTensor } from '@tensorflow/tfjs-layers'
import type { ResnetSpec } from './names'

/** How the layers of a backbone are made. */
export interface BackboneOptions {
  /** Seeds of the kernel initialisers, one per call (`undefined` for unseeded). */
  nextSeed: () => number | undefined
  /** Keras momentum of every batch norm (PyTorch's 0.1 is Keras' 0.9). */
  batchNormMomentum: number
}

/** PyTorch's batch-norm epsilon, so weights from torchvision compute the same. */
export const BATCH_NORM_EPSILON = 1e-5

/** Squeeze-and-excitation reduction: the hidden layer has `channels / 16` units. */
export const SE_REDUCTION = 16

const apply = (layer: tfl.layers.Layer, x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor => layer.apply(x) as SymbolicTensor

/**
 * A bias-free convolution with PyTorch's symmetric zero padding done by an explicit `<name>_pad` layer ('same'
 * padding in TensorFlow pads more at the bottom and right for stride 2, which would shift every feature).
 */
function conv(x: SymbolicTensor, name: string, filters: number, kernelSize: number, stride: number, o: BackboneOptions): SymbolicTensor {
  const pad = (kernelSize - 1) / 2
  if (pad > 0) x = apply(tfl.layers.zeroPadding2d({ padding: pad, name: `${name}_pad` }), x)
  return apply(
    tfl.layers.conv2d({
      filters,
      kernelSize,
      strides: stride,
      padding: 'valid',
      useBias: false,
      // torchvision: kaiming_normal_(mode='fan_out', nonlinearity='relu')
      kernelInitializer: tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: o.nextSeed() }),
      name,
    }),
    x,
  )
}

function bn(x: SymbolicTensor, name: string, o: BackboneOptions): SymbolicTensor {
  return apply(tfl.layers.batchNormalization({ momentum: o.batchNormMomentum, epsilon: BATCH_NORM_EPSILON, name }), x)
}

function relu(x: SymbolicTensor, name: string): SymbolicTensor {
  return apply(tfl.layers.activation({ activation: 'relu', name }), x)
}

/** Squeeze-and-excitation: `x * sigmoid(fc2(relu(fc1(mean over h, w of x))))`, fc1/fc2 as 1×1 convolutions (timm's `se.fc1`, `se.fc2`). */
function squeezeExcite(x: SymbolicTensor, name: string, channels: number, o: BackboneOptions): SymbolicTensor {
  let s = apply(tfl.layers.globalAveragePooling2d({ name: `${name}_pool` }), x)
  s = apply(tfl.layers.reshape({ targetShape: [1, 1, channels], name: `${name}_reshape` }), s)
  const hidden = Math.max(1, Math.floor(channels / SE_REDUCTION))
  for (const [layer, units, activation] of [
    ['fc1', hidden, 'relu'],
    ['fc2', channels, 'sigmoid'],
  ] as const) {
    s = apply(
      tfl.layers.conv2d({
        filters: units,
        kernelSize: 1,
        activation,
        kernelInitializer: tfl.initializers.heNormal({ seed: o.nextSeed() }),
        name: `${name}_${layer}`,
      }),
      s,
    )
  }
  return apply(tfl.layers.multiply({ name: `${name}_scale` }), [x, s])
}

function block(
  x: SymbolicTensor,
  name: string,
  spec: ResnetSpec,
  planes: number,
  stride: number,
  inChannels: number,
  o: BackboneOptions,
): SymbolicTensor {
  const expansion = spec.block === 'bottleneck' ? 4 : 1
  const out = planes * expansion
  let y: SymbolicTensor
  if (spec.block === 'basic') {
    y = relu(bn(conv(x, `${name}_conv1`, planes, 3, stride, o), `${name}_bn1`, o), `${name}_relu1`)
    y = bn(conv(y, `${name}_conv2`, planes, 3, 1, o), `${name}_bn2`, o)
  } else {
    // torchvision's ResNet v1.5: the stride sits on the 3×3 convolution
    y = relu(bn(conv(x, `${name}_conv1`, planes, 1, 1, o), `${name}_bn1`, o), `${name}_relu1`)
    y = relu(bn(conv(y, `${name}_conv2`, planes, 3, stride, o), `${name}_bn2`, o), `${name}_relu2`)
    y = bn(conv(y, `${name}_conv3`, out, 1, 1, o), `${name}_bn3`, o)
  }
  if (spec.se) y = squeezeExcite(y, `${name}_se`, out, o)
  let shortcut = x
  if (stride !== 1 || inChannels !== out) {
    shortcut = bn(conv(x, `${name}_downsample_0`, out, 1, stride, o), `${name}_downsample_1`, o)
  }
  return relu(apply(tfl.layers.add({ name: `${name}_add` }), [y, shortcut]), `${name}_relu`)
}

/**
 * Builds torchvision's ResNet (or the SE variant) without its head on an input, with layer names that follow
 * torchvision's module names (`conv1`, `bn1`, `layer2_0_conv1`, `layer2_0_downsample_0`, `layer1_0_se_fc1`).
 *
 * @param input - `[batch, h, w, 3]`, already normalised
 * @param spec - block type, blocks per stage, SE
 * @param options - seeds and batch-norm momentum
 * @returns the five feature maps: `relu(bn1(conv1(x)))` (stride 2), then `layer1` … `layer4` (strides 4 … 32)
 */
export function buildBackbone(input: SymbolicTensor, spec: ResnetSpec, options: BackboneOptions): SymbolicTensor[] {
  const stem = relu(bn(conv(input, 'conv1', 64, 7, 2, options), 'bn1', options), 'relu')
  // zero padding is exact for the max-pool here: its input comes out of a ReLU, so it is never below 0
  let x = apply(tfl.layers.zeroPadding2d({ padding: 1, name: 'maxpool_pad' }), stem)
  x = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'maxpool' }), x)
  const features = [stem]
  const expansion = spec.block === 'bottleneck' ? 4 : 1
  let channels = 64
  for (let stage = 0; stage < 4; stage++) {
    const planes = 64 * 2 ** stage
    for (let i = 0; i < spec.blocks[stage]!; i++) {
      x = block(x, `layer${stage + 1}_${i}`, spec, planes, i === 0 && stage > 0 ? 2 : 1, channels, options)
      channels = planes * expansion
    }
    features.push(x)
  }
  return features
}

/**
 * The stages a user can freeze up to, each with its last layer: `stem` (conv1, bn1, relu), `layer1` … `layer4`.
 *
 * @param spec - blocks per stage
 * @returns `[stage, last layer]` pairs in data-flow order
 */
export function stageEnds(spec: ResnetSpec): Array<[string, string]> {
  return [['stem', 'relu'], ...spec.blocks.map((n, s): [string, string] => [`layer${s + 1}`, `layer${s + 1}_${n - 1}_relu`])]
}
