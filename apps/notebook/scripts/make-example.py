#!/usr/bin/env python3
"""Writes examples/tgs-salt.ipynb from the cells below (kept here so the notebook's JSON stays reviewable)."""
import json, pathlib

md = lambda s: {"cell_type": "markdown", "metadata": {}, "source": s.strip("\n")}
code = lambda s: {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": s.strip("\n")}

cells = [
    md("""
# TGS Salt segmentation in TypeScript

The seeds' workflow on the `unet-typescript` kernel: synthetic TGS-like data, a small U-Net, a few training
epochs through `fit` of @unet/train (callbacks: best epoch, early stopping, stop on NaN, a live loss curve), a
mask overlay, and a threshold sweep plotted against the Kaggle score.
Swap `generateSyntheticTgs` for `readTgsDataset('path/to/tgs.zip')` to use the competition's files.
"""),
    code("""
import * as tf from '@tensorflow/tfjs-core'
import { initBackend } from '@unet/runtime'
import { generateSyntheticTgs, stratifiedSplit, toModelSize, fromModelSize, type TgsSample } from '@unet/data-tgs'
import { deriveSeed, seededShuffle } from '@unet/data'
import { createUnet } from '@unet/layers'
import { getLoss } from '@unet/losses'
import { sweepThresholds, tgsScore } from '@unet/metrics'
import { fit, bestCheckpoint, earlyStopping, stopOnNaN, type Callback, type FitData } from '@unet/train'

// 'auto' takes the fastest backend installed (UNET_BACKEND overrides it)
const backend = await initBackend()
backend.backend
"""),
    md("## Parameters\nSized for a quick run on a laptop's CPU; raise them for a real one. (The end-to-end test shrinks them further.)"),
    {**code("""
const params = { trainCount: 48, size: 32, depth: 2, filters: 8, batchSize: 8, epochs: 5, seed: 7 }
"""), "metadata": {"tags": ["parameters"]}},
    md("## Data\nA synthetic dataset with the Kaggle layout's shapes: 101×101 images, masks, depths and coverage classes."),
    code("""
const data = generateSyntheticTgs({ trainCount: params.trainCount, testCount: 4, seed: params.seed })
const shape = { height: 101, width: 101 }
const byClass = new Array(11).fill(0)
for (const s of data.train) byClass[s.coverageClass]++
console.log('train images:', data.train.length, 'test images:', data.test.length)
console.log('coverage classes 0..10:', byClass.join(' '))
await display.grid(data.train.slice(0, 8).map((s) => ({ image: s.image, mask: s.mask })), { ...shape, columns: 4 })
"""),
    code("""
const { train, validation } = stratifiedSplit(data.train, { validationFraction: 0.25, seed: params.seed })
;[train.length, validation.length]
"""),
    md("## Model\nA small U-Net (the seed's has depth 4 and 16 filters at 128×128), so that a few steps run in seconds."),
    code("""
const { size } = params
const model = createUnet({ depth: params.depth, filters: params.filters, inputShape: [size, size, 1], dropout: 0 })
model.countParams()
"""),
    md("""## Training
`fit` of @unet/train runs the loop: any batch of any epoch is built from (epoch, step) alone (so a run could
resume mid-epoch), validation picks the threshold by the monitored score, and callbacks watch it all. Our own
callback draws the loss curve in place (one output, updated by its display id)."""),
    code("""
// images and masks at model size, once
const atModelSize = (samples: TgsSample[]) => ({
  x: samples.map((s) => toModelSize(s.image, shape, { size, kind: 'image' })),
  y: samples.map((s) => Float32Array.from(toModelSize(s.mask, shape, { size, kind: 'mask' }), (v) => (v > 0.5 ? 1 : 0))),
})
const trainSet = atModelSize(train)
const valSet = atModelSize(validation)
const pack = (parts: Float32Array[]) => {
  const out = new Float32Array(parts.length * size * size)
  parts.forEach((p, k) => out.set(p, k * size * size))
  return out
}
// the order of an epoch: a seeded shuffle, a pure function of the epoch
const order = (epoch: number) => seededShuffle(train.map((_, i) => i), deriveSeed(params.seed, epoch))
const fitData: FitData = {
  train: {
    count: train.length,
    inputShape: [size, size, 1],
    batch: (epoch, step, batchSize) => {
      const idx = order(epoch).slice(step * batchSize, (step + 1) * batchSize)
      return { x: pack(idx.map((i) => trainSet.x[i]!)), y: pack(idx.map((i) => trainSet.y[i]!)), count: idx.length }
    },
  },
  validation: {
    count: validation.length,
    *batches(batchSize) {
      for (let s = 0; s < validation.length; s += batchSize) {
        const part = validation.slice(s, s + batchSize)
        yield {
          x: pack(valSet.x.slice(s, s + batchSize)),
          y: pack(valSet.y.slice(s, s + batchSize)),
          count: part.length,
          truths: part.map((v) => v.mask),
          // probabilities back to 101×101, where the Kaggle score is computed
          restore: (p: Float32Array) => fromModelSize(p, shape, { size, kind: 'image' }),
        }
      }
    },
  },
}
const losses: number[] = []
const curve = await display.plot({ loss: losses }, { id: 'loss', title: 'training loss', xLabel: 'step' })
const lossCurve: Callback = {
  name: 'lossCurve',
  async onStepEnd(info) {
    losses.push(info.loss)
    await display.plot({ loss: losses }, { id: curve.id, update: true, title: 'training loss', xLabel: 'step' })
  },
  onEpochEnd(logs) {
    console.log(`epoch ${logs.epoch + 1}: val_tgs ${logs.valTgs.toFixed(3)} at threshold ${logs.threshold.toFixed(2)}, val_dice ${logs.valDice.toFixed(3)}`)
  },
}
const best = bestCheckpoint({ monitor: 'val_tgs' })
const result = await fit(model, fitData, {
  epochs: params.epochs,
  batchSize: params.batchSize,
  optimizer: { name: 'adam', learningRate: 0.01 },
  loss: getLoss('bce_dice'),
  monitor: 'val_tgs',
  seed: params.seed,
  callbacks: [stopOnNaN(), best, earlyStopping({ monitor: 'val_tgs', patience: 3 }), lossCurve],
})
console.log(`${losses.length} steps, loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}; stopped: ${result.stopReason.kind}; best val_tgs ${best.best?.value.toFixed(3)} (epoch ${(best.best?.epoch ?? 0) + 1})`)
"""),
    md("## Predictions\nProbabilities at 101×101 for the validation images; the first one with its true mask (red) and the prediction (blue)."),
    code("""
function predict(image: Float32Array): Float32Array {
  const input = toModelSize(image, shape, { size, kind: 'image' })
  const probs = tf.tidy(() => (model.predict(tf.tensor4d(input, [1, size, size, 1])) as tf.Tensor).dataSync())
  return fromModelSize(probs, shape, { size, kind: 'image' })
}
const probabilities = validation.map((s) => predict(s.image))
const first = validation.find((s) => s.coverage > 0.1) ?? validation[0]!
const firstProbs = probabilities[validation.indexOf(first)]!
await display.overlay(first.image, first.mask, { ...shape, prediction: firstProbs.map((p) => (p > 0.5 ? 1 : 0)) })
"""),
    md("## Threshold sweep\nThe Kaggle TGS score and the mean IoU of the validation set against the threshold."),
    code("""
const truths = validation.map((s) => s.mask)
const thresholds = Array.from({ length: 19 }, (_, i) => (i + 1) / 20)
const tgs = sweepThresholds(probabilities, truths, thresholds)
const iou = sweepThresholds(probabilities, truths, thresholds, { metric: 'iou' })
await display.plot(
  [
    { x: tgs.thresholds, y: tgs.scores, label: 'TGS score' },
    { x: iou.thresholds, y: iou.scores, label: 'mean IoU' },
  ],
  { title: 'validation score vs threshold', xLabel: 'threshold', yMin: 0, yMax: 1 },
)
tgs.best
"""),
    md("## Clean up\nEvery tensor the notebook made is released (`fit` disposed its optimizer): the count goes back to zero."),
    code("""
model.dispose()
tf.memory().numTensors
"""),
]

nb = {
    "cells": cells,
    "metadata": {
        "kernelspec": {"name": "unet-typescript", "display_name": "TypeScript (unet)", "language": "typescript"},
        "language_info": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}
for i, cell in enumerate(nb["cells"]):
    cell["id"] = f"cell-{i:02d}"
out = pathlib.Path(__file__).resolve().parent.parent / "examples" / "tgs-salt.ipynb"
out.write_text(json.dumps(nb, indent=1) + "\n")
print(out)
