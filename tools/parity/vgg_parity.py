"""VGG-16 parity, PyTorch side (tools/parity/vgg-parity.ts runs it; not part of CI).

    /usr/bin/python3 tools/parity/vgg_parity.py weights DIR --seed 0
        writes DIR/vgg16-random-notop.h5: random He-scaled VGG-16 weights in the Keras HDF5 layout of
        vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (layer_names, weight_names, /<layer>/<layer>/kernel:0,
        contiguous float32 storage), 58 MB
    /usr/bin/python3 tools/parity/vgg_parity.py features DIR
        reads DIR/vgg16-random-notop.h5 into torchvision's vgg16().features, reads DIR/input.f32 (+ DIR/input.json:
        shape [n, h, w, 1], values in [0, 1]), applies Keras' caffe preprocessing and writes DIR/torch_<k>.f32,
        the output of each block's pool (NHWC), with shapes in DIR/torch.json

Needs Debian's python3-torch, python3-torchvision, python3-h5py, python3-numpy.
"""
import json
import os
import sys

import h5py
import numpy as np

BLOCKS = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
BGR_MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def conv_layers():
    layers, inputs = [], 3
    for block, (filters, count) in enumerate(BLOCKS, start=1):
        for conv in range(1, count + 1):
            layers.append((f'block{block}_conv{conv}', (3, 3, inputs, filters)))
            inputs = filters
    return layers


def write_weights(out_dir, seed):
    rng = np.random.default_rng(seed)
    names = ['input_1']
    for block, (_, count) in enumerate(BLOCKS, start=1):
        names += [f'block{block}_conv{c}' for c in range(1, count + 1)] + [f'block{block}_pool']
    shapes = dict(conv_layers())
    path = os.path.join(out_dir, 'vgg16-random-notop.h5')
    with h5py.File(path, 'w') as f:
        f.attrs['layer_names'] = np.array([n.encode() for n in names])
        f.attrs['backend'] = b'tensorflow'
        f.attrs['keras_version'] = b'2.2.4'
        for name in names:
            g = f.create_group(name)
            if name not in shapes:
                g.attrs['weight_names'] = np.array([], dtype='S1')
                continue
            shape = shapes[name]
            fan_in = shape[0] * shape[1] * shape[2]
            kernel = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
            bias = (rng.standard_normal(shape[3]) * 0.1).astype(np.float32)
            g.attrs['weight_names'] = np.array([f'{name}/kernel:0'.encode(), f'{name}/bias:0'.encode()])
            g.create_dataset(f'{name}/kernel:0', data=kernel)
            g.create_dataset(f'{name}/bias:0', data=bias)
    print(path)


def features(out_dir):
    import torch
    import torchvision

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    model = torchvision.models.vgg16().features.eval()
    convs = [m for m in model if isinstance(m, torch.nn.Conv2d)]
    with h5py.File(os.path.join(out_dir, 'vgg16-random-notop.h5'), 'r') as f:
        for conv, (name, _) in zip(convs, conv_layers()):
            group = f[name]
            kernel_name, bias_name = [n.decode() for n in group.attrs['weight_names']]
            # Keras/TF kernels are [h, w, in, out]; PyTorch's are [out, in, h, w]
            conv.weight.data = torch.from_numpy(np.ascontiguousarray(group[kernel_name][()].transpose(3, 2, 0, 1)))
            conv.bias.data = torch.from_numpy(group[bias_name][()])
    meta = json.load(open(os.path.join(out_dir, 'input.json')))
    x = np.fromfile(os.path.join(out_dir, 'input.f32'), dtype=np.float32).reshape(meta['shape'])
    # Keras 'caffe': 0–255, grayscale repeated to RGB then reversed to BGR (equal channels), minus the means
    bgr = np.repeat(x * 255.0, 3, axis=3) - BGR_MEANS
    t = torch.from_numpy(np.ascontiguousarray(bgr.transpose(0, 3, 1, 2)))
    shapes = {}
    block = 0
    with torch.no_grad():
        for module in model:
            t = module(t)
            if isinstance(module, torch.nn.MaxPool2d):
                block += 1
                nhwc = t.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)
                nhwc.tofile(os.path.join(out_dir, f'torch_{block}.f32'))
                shapes[f'block{block}_pool'] = list(nhwc.shape)
    json.dump(shapes, open(os.path.join(out_dir, 'torch.json'), 'w'))
    print(f'torch {torch.__version__}, torchvision {torchvision.__version__}')


if __name__ == '__main__':
    command, out = sys.argv[1], sys.argv[2]
    if command == 'weights':
        seed = int(sys.argv[sys.argv.index('--seed') + 1]) if '--seed' in sys.argv else 0
        write_weights(out, seed)
    elif command == 'features':
        features(out)
    else:
        raise SystemExit(f'unknown command {command}: use weights or features')
