"""The Keras HDF5 layout of qubvel's classification_models ResNets (resnet18/34/50, seresnet18/34; the pre-activation
networks of its *_imagenet_1000_no_top.h5 files), and a PyTorch forward pass over such a file.

Layer names follow classification_models/models/resnet.py: bn_data (no scale), conv0, bn0, relu0, pooling0,
stage<s>_unit<u>_bn1/relu1/sc/conv1/bn2/relu2/conv2 (bn3/relu3/conv3 for bottlenecks), the SE blocks' unnamed
conv2d_<n> (ChannelSE), bn1, relu1. Files are written as Keras 2's save_weights does: root attribute layer_names
(every layer, weightless ones too, in Keras' data-flow order), each layer a group with attribute weight_names and
its arrays at <layer>/<layer>/<weight>:0.
"""
import h5py
import numpy as np
import torch
import torch.nn.functional as F

LAYOUT = {
    "resnet18": ("basic", [2, 2, 2, 2], False),
    "resnet34": ("basic", [3, 4, 6, 3], False),
    "resnet50": ("bottleneck", [3, 4, 6, 3], False),
    "seresnet18": ("basic", [2, 2, 2, 2], True),
    "seresnet34": ("basic", [3, 4, 6, 3], True),
}
EPS = 2e-5


def layers(arch):
    """[(layer name, [(weight name, shape)])] in Keras order, weightless layers with []."""
    block, reps, se = LAYOUT[arch]
    out, pads, se_count = [], [0], [0]

    def pad():
        pads[0] += 1
        out.append((f"zero_padding2d_{pads[0]}", []))

    def bn(name, c, scale=True):
        names = (["gamma"] if scale else []) + ["beta", "moving_mean", "moving_variance"]
        out.append((name, [(f"{name}/{w}:0", (c,)) for w in names]))

    def conv(name, k, cin, cout):
        out.append((name, [(f"{name}/kernel:0", (k, k, cin, cout))]))

    out.append(("data", []))
    bn("bn_data", 3, scale=False)
    pad()
    conv("conv0", 7, 3, 64)
    bn("bn0", 64)
    out.append(("relu0", []))
    pad()
    out.append(("pooling0", []))
    cin = 64
    for s, n in enumerate(reps):
        filters = 64 * 2 ** s
        cout = filters * (4 if block == "bottleneck" else 1)
        for u in range(n):
            p = f"stage{s + 1}_unit{u + 1}_"
            bn(p + "bn1", cin)
            out.append((p + "relu1", []))
            if u == 0:
                conv(p + "sc", 1, cin, cout)
            if block == "basic":
                pad()
                conv(p + "conv1", 3, cin, filters)
                bn(p + "bn2", filters)
                out.append((p + "relu2", []))
                pad()
                conv(p + "conv2", 3, filters, filters)
            else:
                conv(p + "conv1", 1, cin, filters)
                bn(p + "bn2", filters)
                out.append((p + "relu2", []))
                pad()
                conv(p + "conv2", 3, filters, filters)
                bn(p + "bn3", filters)
                out.append((p + "relu3", []))
                conv(p + "conv3", 1, filters, cout)
            if se:
                for units, cin_se in ((cout // 16, cout), (cout, cout // 16)):
                    se_count[0] += 1
                    name = f"conv2d_{se_count[0]}"
                    out.append((name, [(f"{name}/kernel:0", (1, 1, cin_se, units)), (f"{name}/bias:0", (units,))]))
            out.append((f"add_{s}_{u}", []))
            cin = cout
    bn("bn1", cin)
    out.append(("relu1", []))
    return out


def write(path, arch, value, compression=None):
    """Writes the file; value(layer, weight, shape, index) gives each array (float32)."""
    with h5py.File(path, "w", libver="v108" if compression else "earliest") as f:
        spec = layers(arch)
        f.attrs["layer_names"] = [name.encode() for name, _ in spec]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        k = 0
        for name, weights in spec:
            g = f.create_group(name)
            g.attrs["weight_names"] = [w.encode() for w, _ in weights]
            for w, shape in weights:
                data = value(name, w, shape, k).astype("<f4")
                # big arrays compressed as one chunk each (deflate shrinks a constant array about 1000-fold); small ones
                # contiguous, which spares each the chunk index that would outweigh it
                big = compression is not None and data.size >= 4096
                g.create_dataset(w, data=data, compression=compression if big else None, compression_opts=9 if big else None, chunks=tuple(data.shape) if big else None)
                k += 1


def read(path):
    with h5py.File(path, "r") as f:
        return {name: [np.array(f[name][w]) for w in f[name].attrs["weight_names"]] for name in f.attrs["layer_names"] if len(f[name].attrs["weight_names"])}


def features(weights, arch, x):
    """The pre-activation network in PyTorch (NCHW, 0-255 input) over weights read from such a file: returns relu0,
    stage2_unit1_relu1, stage3_unit1_relu1, stage4_unit1_relu1, relu1."""
    block, reps, se = LAYOUT[arch]
    t = lambda a: torch.from_numpy(a).to(x.dtype)  # noqa: E731
    se_names = iter(sorted((n for n in weights if n.startswith("conv2d_")), key=lambda n: int(n.split("_")[1])))

    def bn(v, name):
        w = weights[name]
        if len(w) == 3:
            beta, mean, var = w
            gamma = np.ones_like(beta)
        else:
            gamma, beta, mean, var = w
        return F.batch_norm(v, t(mean), t(var), t(gamma), t(beta), False, 0.0, EPS)

    def conv(v, name, stride=1):
        k = t(weights[name][0].transpose(3, 2, 0, 1).copy())
        p = (k.shape[2] - 1) // 2
        return F.conv2d(F.pad(v, (p, p, p, p)), k, stride=stride)

    def squeeze(v):
        a, b = next(se_names), next(se_names)
        s = v.mean((2, 3), keepdim=True)
        s = F.relu(F.conv2d(s, t(weights[a][0].transpose(3, 2, 0, 1).copy()), t(weights[a][1])))
        s = torch.sigmoid(F.conv2d(s, t(weights[b][0].transpose(3, 2, 0, 1).copy()), t(weights[b][1])))
        return v * s

    v = bn(x, "bn_data")
    v = F.relu(bn(conv(v, "conv0", 2), "bn0"))
    out = [v]
    v = F.max_pool2d(F.pad(v, (1, 1, 1, 1)), 3, 2)
    for s, n in enumerate(reps):
        for u in range(n):
            p = f"stage{s + 1}_unit{u + 1}_"
            stride = 2 if u == 0 and s > 0 else 1
            pre = F.relu(bn(v, p + "bn1"))
            if u == 0 and s > 0:
                out.append(pre)
            if block == "basic":
                y = conv(pre, p + "conv1", stride)
                y = conv(F.relu(bn(y, p + "bn2")), p + "conv2")
            else:
                y = conv(pre, p + "conv1")
                y = conv(F.relu(bn(y, p + "bn2")), p + "conv2", stride)
                y = conv(F.relu(bn(y, p + "bn3")), p + "conv3")
            if se:
                y = squeeze(y)
            shortcut = conv(pre, p + "sc", stride) if u == 0 else v
            v = y + shortcut
    out.append(F.relu(bn(v, "bn1")))
    return out
