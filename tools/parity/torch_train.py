#!/usr/bin/env python3
"""The PyTorch side of the seed-parity harness (seeds.ts runs it; not part of CI).

An independent trainer of the net and recipe `unet train` uses by default, written the way a PyTorch user would:
  - the plain U-Net of unet_parity.py (depth 4, 8 first-stage filters doubled per stage, conv-BN-ReLU twice per stage,
    2x2 transposed-conv upsampling, sigmoid output), batch norm momentum 0.1 (= Keras/tfjs 0.9), eps 1e-3;
    He-normal (fan-in, truncated at 2 sd) kernels and zero biases, as tfjs' heNormal;
  - Adam (lr 3e-3, betas 0.9/0.999, eps 1e-7 as tfjs), batch 16, BCE (on clipped probabilities) + soft Dice over the batch;
  - horizontal flip with p = 0.5; a fresh shuffle each epoch;
  - after each epoch: validation probabilities resized back to 101x101 (bilinear, half-pixel), the TGS score at
    thresholds 0.05 ... 0.95, the best one (lowest on ties) is val_tgs; it drives the best checkpoint (strictly
    better), reduce-LR-on-plateau (patience 2, x0.5, min 1e-5, min delta 1e-4) and early stopping (patience 5).
The data come prepared (128x128, the same split) from seeds.ts as manifest.json + data.bin (fixture.ts' layout).
At the end the best checkpoint predicts the validation and held-out images; their 128x128 probabilities go to
OUT/val.f32 and OUT/heldout.f32, and OUT/summary.json holds the history. Threshold choice and held-out scoring
happen in seeds.ts with @unet/metrics, the same code as for our runs.

    /usr/bin/python3 tools/parity/torch_train.py CASE_DIR OUT_DIR [--epochs 10] [--threads 2] [--recalibrate-bn]
"""
import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unet_parity import Unet  # noqa: E402  (the same PyTorch U-Net the output-parity check verifies)

THRESHOLDS = [round((i + 1) * 5) / 100 for i in range(19)]
EPS = 1e-7


def he_normal_(weight, fan_in):
    std = (2.0 / fan_in) ** 0.5
    nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)


def init_like_tfjs(model):
    for m in model.modules():
        if isinstance(m, nn.ConvTranspose2d):
            # tfjs Conv2DTranspose kernel [kh, kw, out, in]: its fan-in is kh * kw * out
            he_normal_(m.weight, m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3])
        elif isinstance(m, nn.Conv2d):
            he_normal_(m.weight, m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3])
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def bce_dice(p, y, smooth=1.0):
    q = p.clamp(EPS, 1 - EPS)
    bce = -(y * torch.log(q) + (1 - y) * torch.log(1 - q)).mean()
    inter = (y * p).sum()
    dice = 1 - (2 * inter + smooth) / (y.sum() + p.sum() + smooth)
    return bce + dice


def tgs_scores(probs101, truths101):
    """Mean TGS score at each threshold (foreground where p > t): IoU > 0.50, 0.55, ... 0.95; empty vs empty = 1."""
    truth = truths101 > 0.5
    out = []
    for t in THRESHOLDS:
        pred = probs101 > t
        tp = (pred & truth).sum(axis=(1, 2)).astype(np.int64)
        union = (pred | truth).sum(axis=(1, 2)).astype(np.int64)
        hits = np.zeros(len(tp))
        for k in range(10, 20):
            hits += (20 * tp > k * union)
        hits[union == 0] = 10
        out.append(float((hits / 10).mean()))
    return out


def predict(model, images, batch, size):
    model.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            p = model(images[s : s + batch])
            outs.append(p)
    p128 = torch.cat(outs)
    p101 = F.interpolate(p128, size=size, mode="bilinear", align_corners=False)
    return p128[:, 0], p101[:, 0]


def recalibrate_bn(model, images, batch):
    """Sets each BN layer's running statistics to the plain mean of the batch statistics over the train set."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for s in range(0, len(images) - batch + 1, batch):
            model(images[s : s + batch])
    for m in bns:
        m.momentum = 0.1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--lr-patience", type=int, default=2)
    ap.add_argument("--recalibrate-bn", action="store_true", help="as our trainer: BN statistics recomputed before each validation")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    case, out = Path(args.case), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    m = json.loads((case / "manifest.json").read_text())
    data = np.fromfile(case / "data.bin", dtype="<f4")

    def array(name):
        e = m["arrays"][name]
        return data[e["offset"] : e["offset"] + int(np.prod(e["shape"]))].reshape(e["shape"]).copy()

    nchw = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    xtr, ytr = nchw(array("trainImages")), torch.from_numpy(array("trainMasks"))[:, None]
    xva, yva = nchw(array("valImages")), torch.from_numpy(array("valMasks"))[:, None]
    truth101 = array("valOriginalMasks")
    xho = nchw(array("heldoutImages"))
    size = tuple(truth101.shape[1:3])
    seed = m["seed"]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    o = m["unet"]
    model = Unet(o)
    init_like_tfjs(model)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-7)
    lr, min_lr, factor = args.lr, 1e-5, 0.5
    best, best_state, best_thr = None, None, 0.5
    plateau_best, plateau_wait, stop_best, stop_wait = None, 0, None, 0
    history = []
    n = len(xtr)
    start = time.time()
    for epoch in range(args.epochs):
        t0 = time.time()
        model.train()
        order = rng.permutation(n)
        flips = rng.random(n) < 0.5
        losses = []
        for s in range(0, n, args.batch):
            idx = order[s : s + args.batch]
            x, y = xtr[idx].clone(), ytr[idx].clone()
            f = torch.from_numpy(flips[idx])
            x[f] = x[f].flip(3)
            y[f] = y[f].flip(3)
            opt.zero_grad()
            loss = bce_dice(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if args.recalibrate_bn:
            recalibrate_bn(model, xtr, args.batch)
        p128, p101 = predict(model, xva, args.batch, size)
        with torch.no_grad():
            val_loss = float(bce_dice(p128[:, None], yva))
        sweep = tgs_scores(p101.numpy(), truth101)
        k = int(np.argmax(sweep))  # first maximum: the lowest threshold on ties
        val_tgs, thr = sweep[k], THRESHOLDS[k]
        improved = best is None or val_tgs > best
        if improved:
            best, best_thr, best_state = val_tgs, thr, copy.deepcopy(model.state_dict())
            best_epoch = epoch
        # reduce-LR-on-plateau and early stopping (min delta 1e-4; the counter restarts after a reduction)
        if plateau_best is None or val_tgs > plateau_best + 1e-4:
            plateau_best, plateau_wait = val_tgs, 0
        else:
            plateau_wait += 1
        if plateau_wait >= args.lr_patience:
            nxt = max(min_lr, lr * factor)
            if nxt < lr:
                lr = nxt
                for g in opt.param_groups:
                    g["lr"] = lr
            plateau_wait = 0
        if stop_best is None or val_tgs > stop_best + 1e-4:
            stop_best, stop_wait = val_tgs, 0
        else:
            stop_wait += 1
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "valLoss": val_loss, "valTgs": val_tgs, "threshold": thr, "lr": opt.param_groups[0]["lr"], "seconds": time.time() - t0})
        print(json.dumps(history[-1]), flush=True)
        if args.patience > 0 and stop_wait >= args.patience:
            break
    model.load_state_dict(best_state)
    v128, _ = predict(model, xva, args.batch, size)
    h128, _ = predict(model, xho, args.batch, size)
    v128.numpy().astype("<f4").tofile(out / "val.f32")
    h128.numpy().astype("<f4").tofile(out / "heldout.f32")
    summary = {"best": {"valTgs": best, "epoch": best_epoch + 1, "threshold": best_thr}, "history": history, "seconds": time.time() - start, "threads": args.threads, "recalibrateBn": args.recalibrate_bn}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({"done": True, **summary["best"], "seconds": summary["seconds"]}), flush=True)


if __name__ == "__main__":
    main()
