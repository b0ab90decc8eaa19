import * as tfl from '@tensorflow/tfjs-layers'
import type { SymbolicTensor } from '@tensorflow/tfjs-layers'
import type { BackboneOptions } from './architecture'
import type { ResnetSpec } from './names'

/** Batch-norm epsilon of qubvel's classification_models ResNets (MXNet's). */
export const KERAS_BATCH_NORM_EPSILON = 2e-5

const apply = (layer: tfl.layers.Layer, x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor => layer.apply(x) as SymbolicTensor

/**
 * The pre-activation ResNet (v2, ported from MXNet) of qubvel's classification_models, the network of its
 * `resnet18/34/50_imagenet_1000_no_top.h5` and `seresnet18/34_imagenet_1000_no_top.h5`, with its layer names:
 * `bn_data` (input normalisation, no scale), `conv0`, `bn0`, `relu0`, `pooling0`, blocks
 * `stage<s>_unit<u>_bn1`/`_relu1`/`_sc`/`_conv1`/`_bn2`/`_relu2`/`_conv2` (… `_bn3`, `_conv3` for bottlenecks),
 * SE blocks `stage<s>_unit<u>_se_fc1`/`_fc2` (unnamed `conv2d_*` in the file), and `bn1`/`relu1` at the end.
 * It takes 0–255 RGB input (bn_data normalises).
 *
 * @param input - `[batch, h, w, 3]` in 0–255
 * @param spec - block type, blocks per stage, SE
 * @param options - seeds and batch-norm momentum
 * @returns the five feature maps segmentation_models uses: `relu0`, `stage2_unit1_relu1`, `stage3_unit1_relu1`,
 *   `stage4_unit1_relu1`, `relu1` (strides 2 … 32)
 */
export function buildPreactBackbone(input: SymbolicTensor, spec: ResnetSpec, o: BackboneOptions): SymbolicTensor[] {
  const bn = (x: SymbolicTensor, name: string, scale = true) =>
    apply(tfl.layers.batchNormalization({ momentum: o.batchNormMomentum, epsilon: KERAS_BATCH_NORM_EPSILON, scale, name }), x)
  const relu = (x: SymbolicTensor, name: string) => apply(tfl.layers.activation({ activation: 'relu', name }), x)
  const conv = (x: SymbolicTensor, name: string, filters: number, kernelSize: number, stride: number) => {
    if (kernelSize > 1) x = apply(tfl.layers.zeroPadding2d({ padding: (kernelSize - 1) / 2, name: `${name}_pad` }), x)
    return apply(
      tfl.layers.conv2d({
        filters,
        kernelSize,
        strides: stride,
        padding: 'valid',
        useBias: false,
        kernelInitializer: tfl.initializers.heUniform({ seed: o.nextSeed() }),
        name,
      }),
      x,
    )
  }
  const se = (x: SymbolicTensor, name: string, channels: number) => {
    let s = apply(tfl.layers.globalAveragePooling2d({ name: `${name}_pool` }), x)
    s = apply(tfl.layers.reshape({ targetShape: [1, 1, channels], name: `${name}_reshape` }), s)
    s = apply(tfl.layers.conv2d({ filters: Math.floor(channels / 16), kernelSize: 1, activation: 'relu', kernelInitializer: tfl.initializers.heUniform({ seed: o.nextSeed() }), name: `${name}_fc1` }), s)
    s = apply(tfl.layers.conv2d({ filters: channels, kernelSize: 1, activation: 'sigmoid', kernelInitializer: tfl.initializers.heUniform({ seed: o.nextSeed() }), name: `${name}_fc2` }), s)
    return apply(tfl.layers.multiply({ name: `${name}_scale` }), [x, s])
  }

  let x = bn(input, 'bn_data', false)
  x = relu(bn(conv(x, 'conv0', 64, 7, 2), 'bn0'), 'relu0')
  const features = [x]
  x = apply(tfl.layers.zeroPadding2d({ padding: 1, name: 'pooling0_pad' }), x)
  x = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'pooling0' }), x)
  for (let stage = 0; stage < 4; stage++) {
    const filters = 64 * 2 ** stage
    for (let unit = 0; unit < spec.blocks[stage]!; unit++) {
      const name = `stage${stage + 1}_unit${unit + 1}`
      const stride = unit === 0 && stage > 0 ? 2 : 1
      const pre = relu(bn(x, `${name}_bn1`), `${name}_relu1`)
      if (unit === 0 && stage > 0) features.push(pre)
      let y: SymbolicTensor
      let out: number
      if (spec.block === 'basic') {
        out = filters
        y = conv(pre, `${name}_conv1`, filters, 3, stride)
        y = conv(relu(bn(y, `${name}_bn2`), `${name}_relu2`), `${name}_conv2`, filters, 3, 1)
      } else {
        out = filters * 4
        y = conv(pre, `${name}_conv1`, filters, 1, 1)
        y = conv(relu(bn(y, `${name}_bn2`), `${name}_relu2`), `${name}_conv2`, filters, 3, stride)
        y = conv(relu(bn(y, `${name}_bn3`), `${name}_relu3`), `${name}_conv3`, out, 1, 1)
      }
      if (spec.se) y = se(y, `${name}_se`, out)
      // the first unit of a stage takes its shortcut after the pre-activation ('post' cut), the others the input
      const shortcut = unit === 0 ? conv(pre, `${name}_sc`, out, 1, stride) : x
      x = apply(tfl.layers.add({ name: `${name}_add` }), [y, shortcut])
    }
  }
  features.push(relu(bn(x, 'bn1'), 'relu1'))
  return features
}

/**
 * Freeze points of the pre-activation network: `stem` (to `pooling0`), `layer1` … `layer4` (to each stage's
 * last addition; `layer4` also takes the final `bn1`, `relu1`).
 *
 * @param spec - blocks per stage
 * @returns `[stage, last layer]` pairs in data-flow order
 */
export function preactStageEnds(spec: ResnetSpec): Array<[string, string]> {
  return [
    ['stem', 'pooling0'],
    ...spec.blocks.map((n, s): [string, string] => [`layer${s + 1}`, s === 3 ? 'relu1' : `stage${s + 1}_unit${n}_add`]),
  ]
}
