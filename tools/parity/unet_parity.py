#!/usr/bin/env python3
"""PyTorch half of the U-Net parity check (run by unet-parity.ts; not part of CI).

Reads a case written by unet-parity.ts (manifest.json + data.bin: the tfjs model's options, every
weight by layer name, a random input and the tfjs output), builds the same U-Net in PyTorch, loads
the weights, runs it in eval mode in float32 and float64, and prints the comparison as one JSON line.

Needs Debian's python3-torch and python3-numpy: run with /usr/bin/python3.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBlock(nn.Module):
    """conv3x3 'same' -> batch norm (optional) -> ReLU, twice; as @unet/layers' convBlock."""

    def __init__(self, cin, filters, batch_norm):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, filters, 3, padding=1, bias=not batch_norm)
        self.bn1 = nn.BatchNorm2d(filters, eps=1e-3) if batch_norm else None  # Keras/tfjs epsilon
        self.conv2 = nn.Conv2d(filters, filters, 3, padding=1, bias=not batch_norm)
        self.bn2 = nn.BatchNorm2d(filters, eps=1e-3) if batch_norm else None

    def forward(self, x):
        x = self.conv1(x)
        if self.bn1 is not None:
            x = self.bn1(x)
        x = F.relu(x)
        x = self.conv2(x)
        if self.bn2 is not None:
            x = self.bn2(x)
        return F.relu(x)


def upsample_bilinear_tf_legacy(x):
    """2x bilinear resize as tf.image.resizeBilinear with alignCorners=false, halfPixelCenters=false
    (what tfjs UpSampling2D uses): source = target / 2, so even rows copy, odd rows average with the
    next row, the last odd row repeats the edge. Differs from F.interpolate's half-pixel centres."""

    def along(t, dim):
        n = t.shape[dim]
        nxt = torch.cat([t.narrow(dim, 1, n - 1), t.narrow(dim, n - 1, 1)], dim)
        mid = 0.5 * (t + nxt)
        stacked = torch.stack([t, mid], dim + 1)
        shape = list(t.shape)
        shape[dim] = 2 * n
        return stacked.reshape(shape)

    return along(along(x, 2), 3)


class Unet(nn.Module):
    def __init__(self, o):
        super().__init__()
        depth, bn = o["depth"], o["batchNormMomentum"] is not None
        f = [round(o["filters"] * o["filterScaling"] ** i) for i in range(depth + 1)]
        self.depth, self.upsampling, self.activation = depth, o["upsampling"], o["outputActivation"]
        cin = o["inputShape"][2]
        self.enc = nn.ModuleList()
        for level in range(depth):
            self.enc.append(ConvBlock(cin, f[level], bn))
            cin = f[level]
        self.bottleneck = ConvBlock(cin, f[depth], bn)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        deeper = f[depth]
        for level in reversed(range(depth)):
            if self.upsampling == "transpose":
                self.up.append(nn.ConvTranspose2d(deeper, f[level], 2, stride=2))
                up_channels = f[level]
            else:
                self.up.append(nn.Identity())
                up_channels = deeper
            self.dec.append(ConvBlock(up_channels + f[level], f[level], bn))
            deeper = f[level]
        self.output = nn.Conv2d(f[0], o["classes"], 1)

    def forward(self, x):
        skips = []
        for block in self.enc:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.up, self.dec, reversed(skips)):
            x = up(x) if self.upsampling == "transpose" else upsample_bilinear_tf_legacy(x)
            x = block(torch.cat([x, skip], 1))  # tfjs concatenates [upsampled, skip] on channels
        x = self.output(x)
        return torch.sigmoid(x) if self.activation == "sigmoid" else x


def load_weights(model, o, weights):
    """Maps tfjs layer names to the PyTorch modules; kernels go from HWIO to OIHW."""
    depth = o["depth"]

    def conv(module, name, transpose=False):
        w = weights[name]
        # tfjs Conv2D kernel [kh, kw, in, out] -> [out, in, kh, kw];
        # Conv2DTranspose kernel [kh, kw, out, in] -> ConvTranspose2d [in, out, kh, kw]: the same permutation
        module.weight.data = torch.from_numpy(np.ascontiguousarray(w[0].transpose(3, 2, 0, 1)))
        if len(w) > 1:
            module.bias.data = torch.from_numpy(w[1])
        else:
            assert module.bias is None, name

    def bn(module, name):
        gamma, beta, mean, var = weights[name]
        module.weight.data, module.bias.data = torch.from_numpy(gamma), torch.from_numpy(beta)
        module.running_mean.data, module.running_var.data = torch.from_numpy(mean), torch.from_numpy(var)

    def block(module, prefix):
        conv(module.conv1, f"{prefix}_conv1")
        conv(module.conv2, f"{prefix}_conv2")
        if module.bn1 is not None:
            bn(module.bn1, f"{prefix}_bn1")
            bn(module.bn2, f"{prefix}_bn2")

    for level in range(depth):
        block(model.enc[level], f"enc{level + 1}")
    block(model.bottleneck, "bottleneck")
    for i, level in enumerate(reversed(range(depth))):
        if o["upsampling"] == "transpose":
            conv(model.up[i], f"dec{level + 1}_up")
        block(model.dec[i], f"dec{level + 1}")
    conv(model.output, "output")
    used = {n for n in weights}
    expected = sum(p.numel() for p in model.parameters()) + sum(b.numel() for n, b in model.named_buffers() if "running" in n)
    given = sum(a.size for ws in weights.values() for a in ws)
    assert expected == given, f"parameter count differs: torch {expected}, tfjs {given} ({sorted(used)})"


def main(case_dir):
    case = Path(case_dir)
    manifest = json.loads((case / "manifest.json").read_text())
    data = np.fromfile(case / "data.bin", dtype="<f4")

    def array(entry):
        return data[entry["offset"] : entry["offset"] + int(np.prod(entry["shape"]))].reshape(entry["shape"]).copy()

    weights = {layer["name"]: [array(w) for w in layer["weights"]] for layer in manifest["layers"]}
    o = manifest["options"]
    torch.set_num_threads(1)
    model = Unet(o)
    load_weights(model, o, weights)
    model.eval()
    x = torch.from_numpy(array(manifest["input"]).transpose(0, 3, 1, 2).copy())  # NHWC -> NCHW
    expected = array(manifest["output"])
    result = {"case": manifest["case"], "outputShape": list(expected.shape)}
    with torch.no_grad():
        for dtype, key in ((torch.float32, "float32"), (torch.float64, "float64")):
            y = model.to(dtype)(x.to(dtype)).permute(0, 2, 3, 1).numpy().astype(np.float64)
            result[f"maxAbsDiff_{key}"] = float(np.max(np.abs(y - expected)))
            result[f"meanAbsDiff_{key}"] = float(np.mean(np.abs(y - expected)))
            result[f"maxAbsOutput_{key}"] = float(np.max(np.abs(y)))
    result["torch"] = torch.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
