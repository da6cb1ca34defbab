"""Training runs: `run.train_run` (train, select on validation, calibrate, test once,
export), its checked configuration (`config`), the run directory and its lock
(`directory`, `lock`), callbacks, TensorBoard, plots, timing, precision, execution
(determinism, distribution) and the quality suite over inspection folders
(`quality_suite`)."""
