export { fit, type FitLoss, type FitOptions, type FitResult, type LossPhase, type OutputsLoss } from './fit'
export { stepsPerEpoch, type Batch, type FitData, type TrainingData, type ValidationBatch, type ValidationData } from './data'
export {
  bestCheckpoint,
  csvLogger,
  cycleSnapshots,
  earlyStopping,
  HISTORY_COLUMNS,
  historyCsv,
  jsonlLogger,
  reduceLrOnPlateau,
  stopOnNaN,
  timeLimit,
  type BestEpoch,
  type Callback,
  type CheckpointInfo,
  type EpochLogs,
  type StepInfo,
  type TrainingControl,
} from './callbacks'
export {
  cleanCheckpoints,
  findCheckpoint,
  loadCheckpoint,
  loadWeightsInto,
  readState,
  saveCheckpoint,
  type CheckpointStep,
  type SaveCheckpointOptions,
  type TrainingState,
} from './checkpoint'
export { improves, MONITOR_NAMES, MONITORS, resolveMonitor, type MonitorDeclaration, type MonitorMode, type MonitorName } from './monitors'
export {
  applyWeightDecay,
  checkOptimizer,
  createOptimizer,
  getLearningRate,
  OPTIMIZER_NAMES,
  OPTIMIZERS,
  restoreOptimizerState,
  saveOptimizerState,
  setLearningRate,
  type OptimizerDeclaration,
  type OptimizerName,
  type OptimizerSpec,
  type OptimizerState,
  type SavedVariable,
} from './optimizers'
export { checkSchedule, cosineCycle, learningRateAt, LR_SCHEDULES, SCHEDULE_NAMES, type LrSchedule, type ScheduleDeclaration, type ScheduleName } from './schedules'
export { describeStop, isFinished, type StopReason } from './stop'
export { recalibrateBatchNorm } from './batch-norm'
export { seedDropout } from './dropout'
export { DEFAULT_THRESHOLDS, validate, type ImageScores, type ScoresAt, type ValidateOptions, type ValidationResult } from './validate'
export { TrainError, type TrainErrorCode } from './errors'
