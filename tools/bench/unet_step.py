"""PyTorch peer of unet-step.ts: the same U-Net, batch, optimiser and loss, timed the same way.

Run by unet-step.ts (or alone): /usr/bin/python3 tools/bench/unet_step.py --threads 2 --steps 5 --json
Prints one JSON object with the minimum and median wall and CPU seconds per training step and per prediction batch.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def conv_block(cin: int, cout: int) -> nn.Sequential:
    # Keras BatchNormalization(momentum=0.99, epsilon=1e-3) is PyTorch's momentum=0.01, eps=1e-3.
    layers = []
    for c in (cin, cout):
        layers += [nn.Conv2d(c, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    def __init__(self, depth: int = 4, filters: int = 16, scaling: int = 2, in_channels: int = 1):
        super().__init__()
        widths = [filters * scaling**i for i in range(depth + 1)]
        self.encoders = nn.ModuleList()
        cin = in_channels
        for w in widths[:depth]:
            self.encoders.append(conv_block(cin, w))
            cin = w
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = conv_block(widths[depth - 1], widths[depth])
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in reversed(range(depth)):
            self.ups.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
            self.decoders.append(conv_block(2 * widths[level], widths[level]))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        return torch.sigmoid(self.head(x))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = UNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.BCELoss()
    xs = torch.rand(args.batch, 1, args.size, args.size)
    ys = (torch.rand(args.batch, 1, args.size, args.size) > 0.5).float()

    steps, steps_cpu = [], []
    for i in range(args.steps + 1):
        c0 = time.process_time()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs), ys)
        loss.backward()
        opt.step()
        loss.item()
        if i > 0:  # the first step pays for allocation and kernel selection
            steps.append(time.perf_counter() - t0)
            steps_cpu.append(time.process_time() - c0)

    model.eval()
    predicts, predicts_cpu = [], []
    with torch.no_grad():
        for i in range(args.steps + 1):
            c0 = time.process_time()
            t0 = time.perf_counter()
            model(xs).sum().item()
            if i > 0:
                predicts.append(time.perf_counter() - t0)
                predicts_cpu.append(time.process_time() - c0)

    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "step_min_s": min(steps),
        "step_median_s": statistics.median(steps),
        "predict_min_s": min(predicts),
        "predict_median_s": statistics.median(predicts),
        # CPU seconds of the process (all threads): with one thread, a figure less disturbed by other load.
        "step_cpu_min_s": min(steps_cpu),
        "predict_cpu_min_s": min(predicts_cpu),
        "step_cpu_median_s": statistics.median(steps_cpu),
        "predict_cpu_median_s": statistics.median(predicts_cpu),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    print(json.dumps(result) if args.json else result)


if __name__ == "__main__":
    main()
