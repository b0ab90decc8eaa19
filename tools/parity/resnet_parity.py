#!/usr/bin/env python3
"""ResNet / SE-ResNet parity, PyTorch side (run by resnet-parity.ts; not part of CI).

    resnet_parity.py weights DIR ARCH SEED
        builds torchvision's ARCH (resnet18/34/50) or the SE variant defined here (seresnet18/34/50: an SE block
        after the last batch norm of each residual block, timm's key names se.fc1 / se.fc2), draws random weights
        and batch-norm statistics, and writes DIR/ARCH.safetensors by hand (8-byte little-endian header length,
        JSON header, raw little-endian tensors; num_batches_tracked as I64, the classifier fc.* included, as in a
        real checkpoint) and DIR/ARCH.pt for the features step
    resnet_parity.py features DIR ARCH
        runs DIR/input.f32 (NHWC, shape in DIR/input.json, already normalised) through the network in eval mode and
        writes DIR/torch_<k>.f32 (NHWC) for the five feature maps relu(bn1(conv1)), layer1 ... layer4
    resnet_parity.py keras-weights DIR ARCH SEED / keras-features DIR ARCH
        the same for the pre-activation networks of qubvel's classification_models: random weights written with h5py
        in the Keras layout of its *_imagenet_1000_no_top.h5 files (DIR/ARCH-cm.h5, see classification_models_h5.py),
        and the features of a PyTorch forward pass over that file (0-255 input)
    resnet_parity.py unet DIR
        reads a U-Net case written by resnet-parity.ts (manifest.json + data.bin: every tfjs weight by layer name,
        input, output), builds the same U-Net in PyTorch (ImageNet normalisation, the encoder above, the decoder of
        @unet/layers), runs it in eval mode in float32 and float64 and prints the comparison as one JSON line

Needs Debian's python3-torch, python3-torchvision, python3-numpy: run with /usr/bin/python3.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

sys.path.insert(0, str(Path(__file__).parent))
from unet_parity import ConvBlock, upsample_bilinear_tf_legacy  # noqa: E402
import classification_models_h5 as cm  # noqa: E402


class SE(nn.Module):
    """Squeeze-and-excitation: x * sigmoid(fc2(relu(fc1(mean_hw(x))))), fc as 1x1 convolutions (timm's SEModule)."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, max(1, channels // reduction), 1)
        self.fc2 = nn.Conv2d(max(1, channels // reduction), channels, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class SEBasicBlock(BasicBlock):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.se = SE(self.conv2.out_channels)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + identity)


class SEBottleneck(Bottleneck):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.se = SE(self.conv3.out_channels)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


LAYOUT = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
    "seresnet18": (SEBasicBlock, [2, 2, 2, 2]),
    "seresnet34": (SEBasicBlock, [3, 4, 6, 3]),
    "seresnet50": (SEBottleneck, [3, 4, 6, 3]),
}


def build(arch):
    if arch in ("resnet18", "resnet34", "resnet50"):
        return getattr(torchvision.models, arch)()  # torchvision's own definition
    block, layers = LAYOUT[arch]
    return ResNet(block, layers)


def features(model, x):
    x = model.relu(model.bn1(model.conv1(x)))
    out = [x]
    x = model.maxpool(x)
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        x = layer(x)
        out.append(x)
    return out


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / p[0].numel()) ** 0.5)
            elif "bn" in name or "downsample.1" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2 + (1.0 if name.endswith("weight") else 0.0))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) * 1.5 + 0.5)


def write_safetensors(state, path):
    header, chunks, offset = {}, [], 0
    for key, tensor in state.items():
        t = tensor.detach().contiguous()
        data = t.numpy().astype("<i8" if t.dtype == torch.int64 else "<f4").tobytes()
        header[key] = {"dtype": "I64" if t.dtype == torch.int64 else "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # the format pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def cmd_weights(out, arch, seed):
    model = build(arch)
    randomise(model, int(seed))
    write_safetensors(model.state_dict(), Path(out) / f"{arch}.safetensors")
    torch.save(model.state_dict(), Path(out) / f"{arch}.pt")


def cmd_features(out, arch):
    out = Path(out)
    model = build(arch)
    model.load_state_dict(torch.load(out / f"{arch}.pt"))
    model.eval()
    shape = json.loads((out / "input.json").read_text())["shape"]
    x = torch.from_numpy(np.fromfile(out / "input.f32", dtype="<f4").reshape(shape).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        single = features(model, x)
        double = features(model.double(), x.double())
        for k, f in enumerate(single):
            f.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(out / f"torch_{k}.f32")
    (out / "noise.json").write_text(json.dumps([float((a.double() - b).abs().max()) for a, b in zip(single, double)]))


class ResnetUnet(nn.Module):
    """ImageNet normalisation, the encoder, then @unet/layers' decoder: dec5 ... dec1 (up, concat the feature of that
    stride when there is one, two conv-bn-relu), a 1x1 output convolution."""

    def __init__(self, o, arch):
        super().__init__()
        self.encoder = build(arch)
        self.upsampling, self.activation = o["upsampling"], o["outputActivation"]
        bn = o["batchNormMomentum"] is not None
        expansion = 4 if "50" in arch else 1
        chans = [64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion]  # strides 2 ... 32
        filters = o["decoderFilters"]  # dec1 ... dec5
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        deeper = chans[4]
        for level in range(5, 0, -1):
            skip = chans[level - 2] if level >= 2 else 0  # dec<level> outputs stride 2^(level-1)
            if self.upsampling == "transpose":
                self.up.append(nn.ConvTranspose2d(deeper, filters[level - 1], 2, stride=2))
                up_channels = filters[level - 1]
            else:
                self.up.append(nn.Identity())
                up_channels = deeper
            self.dec.append(ConvBlock(up_channels + skip, filters[level - 1], bn))
            deeper = filters[level - 1]
        self.output = nn.Conv2d(filters[0], o["classes"], 1)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = (x - self.mean) / self.std
        feats = features(self.encoder, x)
        x = feats[4]
        skips = [None] + feats[:4]  # dec1 has none; dec2 gets stride 2, ...
        for i, (up, block) in enumerate(zip(self.up, self.dec)):
            level = 5 - i
            x = up(x) if self.upsampling == "transpose" else upsample_bilinear_tf_legacy(x)
            skip = skips[level - 1]
            x = block(x if skip is None else torch.cat([x, skip], 1))
        x = self.output(x)
        return torch.sigmoid(x) if self.activation == "sigmoid" else x


def torch_name(tfjs_name):
    return tfjs_name.replace("_", ".")


def load_unet_weights(model, weights):
    modules = dict(model.named_modules())
    used = 0
    for name, ws in weights.items():
        if name == "imagenet_preprocess":
            continue  # the normalisation above
        if name.startswith("dec") or name == "output":
            level = int(name[3]) if name.startswith("dec") else None
            if name == "output":
                module = model.output
            elif name.endswith("_up"):
                module = model.up[5 - level]
            else:
                module = getattr(model.dec[5 - level], name.split("_")[1])
        else:
            module = modules["encoder." + torch_name(name)]
        if isinstance(module, nn.BatchNorm2d):
            gamma, beta, mean, var = ws
            module.weight.data, module.bias.data = torch.from_numpy(gamma), torch.from_numpy(beta)
            module.running_mean.data, module.running_var.data = torch.from_numpy(mean), torch.from_numpy(var)
            if not name.startswith("dec"):
                module.eps = 1e-5
        else:
            module.weight.data = torch.from_numpy(np.ascontiguousarray(ws[0].transpose(3, 2, 0, 1)))
            if len(ws) > 1:
                module.bias.data = torch.from_numpy(ws[1])
            else:
                assert module.bias is None, name
        used += sum(w.size for w in ws)
    # torchvision's classifier (encoder.fc) is not part of the U-Net
    expected = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("encoder.fc.")) + sum(
        b.numel() for n, b in model.named_buffers() if "running" in n
    )
    assert used == expected, f"parameter count differs: torch {expected}, tfjs {used}"


def cmd_unet(case_dir):
    case = Path(case_dir)
    manifest = json.loads((case / "manifest.json").read_text())
    data = np.fromfile(case / "data.bin", dtype="<f4")

    def array(entry):
        return data[entry["offset"] : entry["offset"] + int(np.prod(entry["shape"]))].reshape(entry["shape"]).copy()

    weights = {layer["name"]: [array(w) for w in layer["weights"]] for layer in manifest["layers"]}
    torch.set_num_threads(1)
    model = ResnetUnet(manifest["options"], manifest["encoder"])
    load_unet_weights(model, weights)
    model.eval()
    x = torch.from_numpy(array(manifest["input"]).transpose(0, 3, 1, 2).copy())
    expected = array(manifest["output"])
    result = {"case": manifest["case"], "outputShape": list(expected.shape)}
    with torch.no_grad():
        for dtype, key in ((torch.float32, "float32"), (torch.float64, "float64")):
            y = model.to(dtype)(x.to(dtype)).permute(0, 2, 3, 1).numpy().astype(np.float64)
            result[f"maxAbsDiff_{key}"] = float(np.max(np.abs(y - expected)))
            result[f"maxAbsOutput_{key}"] = float(np.max(np.abs(y)))
    result["torch"] = torch.__version__
    print(json.dumps(result))


def cmd_keras_weights(out, arch, seed):
    rng = np.random.default_rng(int(seed))

    def value(layer, weight, shape, k):
        if "moving_variance" in weight:
            return rng.uniform(0.5, 2.0, shape)
        if "gamma" in weight:
            return 1 + 0.2 * rng.standard_normal(shape)
        if "kernel" in weight:
            return rng.standard_normal(shape) * (2.0 / np.prod(shape[:-1])) ** 0.5
        return 0.2 * rng.standard_normal(shape)  # beta, moving_mean, biases

    cm.write(Path(out) / f"{arch}-cm.h5", arch, value)


def cmd_keras_features(out, arch):
    out = Path(out)
    weights = cm.read(out / f"{arch}-cm.h5")
    shape = json.loads((out / "input.json").read_text())["shape"]
    x = torch.from_numpy(np.fromfile(out / "input.f32", dtype="<f4").reshape(shape).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        single = cm.features(weights, arch, x)
        double = cm.features(weights, arch, x.double())
        for k, f in enumerate(single):
            f.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(out / f"torch_{k}.f32")
    (out / "noise.json").write_text(json.dumps([float((a.double() - b).abs().max()) for a, b in zip(single, double)]))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    commands = {"weights": cmd_weights, "features": cmd_features, "unet": cmd_unet, "keras-weights": cmd_keras_weights, "keras-features": cmd_keras_features}
    commands[command](*args)
