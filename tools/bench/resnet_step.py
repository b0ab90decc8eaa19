"""PyTorch peer of resnet-step.ts: the same ResNet / SE-ResNet U-Net (tools/parity/resnet_parity.py's ResnetUnet:
ImageNet normalisation, torchvision's encoder or the SE variant, @unet/layers' decoder), batch, optimiser and loss,
timed the same way (one warm-up step, then --steps timed ones).

    /usr/bin/python3 tools/bench/resnet_step.py --encoder resnet34 --threads 2 --steps 3
Prints one JSON object: median and minimum wall seconds per step, minimum CPU seconds per step.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parity"))
from resnet_parity import ResnetUnet  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--encoder", default="resnet34")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--batch", type=int, default=8)
parser.add_argument("--size", type=int, default=128)
a = parser.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
options = {"upsampling": "transpose", "outputActivation": "sigmoid", "batchNormMomentum": 0.99, "decoderFilters": [16, 32, 64, 128, 256], "classes": 1}
model = ResnetUnet(options, a.encoder)
model.train()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.BCELoss()
x = torch.rand(a.batch, 3, a.size, a.size)
y = (torch.rand(a.batch, 1, a.size, a.size) > 0.5).float()
wall, cpu = [], []
for i in range(a.steps + 1):
    c0, t0 = time.process_time(), time.perf_counter()
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    if i > 0:
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
print(json.dumps({"median": statistics.median(wall), "min": min(wall), "cpuMin": min(cpu), "torch": torch.__version__, "threads": a.threads}))
