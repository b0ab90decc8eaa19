export {
  classScoresFromCounts,
  confusionCounts,
  pixelAccuracyFromCounts,
  diceFromCounts,
  iouFromCounts,
  tgsImageScoreFromCounts,
  TGS_IOU_THRESHOLDS,
  type ClassScores,
  type ConfusionCounts,
  type MaskOptions,
} from './counts'
export { dice, iou, pixelAccuracy, tgsImageScore, tgsScore } from './scores'
export {
  DEFAULT_SWEEP_THRESHOLDS,
  sweepThresholds,
  ThresholdSweep,
  type SweepMetric,
  type SweepOptions,
  type SweepResult,
} from './sweep'
export { MetricsError, type MetricsErrorCode } from './errors'
