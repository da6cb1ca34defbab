"""A training run in a run directory: train, select, calibrate, test once, export.

`train_run` checks its arguments (`ganomaly_keras.training.config`), locks the run
directory, and then takes one step after another: data (`DataSpec.splits`), model
(`_build_detector`), callbacks (`_callbacks`), training (`_fit`), selection
(`_select_epoch`: the best checkpoint by validation; then
`ganomaly_keras.scoring.selection.select_score` on validation), calibration, the test
split scored once and the export (`ganomaly_keras.training.finish`), and the run's
`report.html` (`ganomaly_keras.training.report`). The files it writes are listed in
`ganomaly_keras.training.directory`.

Model selection (best epoch, score) and calibration use the validation split only;
the test split is scored once, at the end. Rerunning the same command on an
interrupted run resumes at the epoch it reached.
"""

import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras.data.decoding import find_unreadable, unreadable_error
from ganomaly_keras.data.folders import FileSplit
from ganomaly_keras.data.pipeline import training_input
from ganomaly_keras.deploy.export import (
    EXPORT_FORMATS,
)
from ganomaly_keras.models.registry import DETECTORS, detector_class
from ganomaly_keras.saving import (
    load_model,
    save_model_atomically,
    write_json_atomically,
)
from ganomaly_keras.scoring.selection import AUTO_SCORE, select_score
from ganomaly_keras.training.callbacks import (
    AUROCCallback,
    BestModelCheckpoint,
    RunHistory,
    StepBudget,
)
from ganomaly_keras.training.config import run_config
from ganomaly_keras.training.defaults import INSPECTION_DEFAULTS
from ganomaly_keras.training.directory import (
    RunError,
    check_resumable,
    clear_run_directory,
    first_missing_folder,
    load_run_spec,
    resolve_model_path,
)
from ganomaly_keras.training.execution import (
    enable_determinism,
    make_strategy,
    worker_role,
)
from ganomaly_keras.training.finish import export_run, report_test
from ganomaly_keras.training.lock import RunLock
from ganomaly_keras.training.precision import dtype_policy, float32_copy
from ganomaly_keras.training.report import build_report
from ganomaly_keras.training.tensorboard import TensorBoardImages
from ganomaly_keras.training.timing import PhaseTimes
from ganomaly_keras.training.timing import describe as describe_times

__all__ = [
    "DETECTORS", "INSPECTION_DEFAULTS", "RunError", "load_run_spec",
    "resolve_model_path", "train_run",
]
def train_run(
    run_dir, spec, model_options=None, detector="ganomaly", epochs=None, batch_size=64,
    jit_compile="auto", export_formats=EXPORT_FORMATS, overwrite=False, verbose="auto",
    steps=None, validation_every=None, augment=False, deterministic=False,
    strategy="default", precision="float32", steps_per_execution=1,
):
    """Train, select on validation, calibrate, test once, export.

    Args:
        run_dir: the run directory (created; an interrupted run there resumes).
        spec: a `DataSpec`.
        model_options: dict of the detector's constructor options
            (`ganomaly_keras.models.model_options(detector)`), plus `score="auto"`.
        detector: a name in `DETECTORS`: "ganomaly", "skip_ganomaly",
            "simultaneous_encoder_gan", "egbad" or "anogan".
        epochs: training length in passes over the data (15 when neither epochs nor
            steps is given).
        batch_size: images per update.
        jit_compile: passed to `compile`.
        export_formats: formats for `export_model`; empty for none. Formats the
            detector cannot produce are skipped, with the reason in metrics.json.
        overwrite: start over in a run directory that holds another or a finished run.
        verbose: Keras' progress bar setting.
        steps: training length in updates instead of epochs: exactly this many.
            Validation, checkpoints and TensorBoard then run every
            `validation_every` steps (default: a fifth of the budget).
        validation_every: with steps, the cadence of validation and checkpoints.
        augment: apply `ganomaly_keras.data.augmentation` (flips, 90-degree
            rotations, brightness, contrast) to training batches: for textures.
        deterministic: bit-identical weights and scores for the same seed, data and
            machine (`ganomaly_keras.training.execution.enable_determinism`; process-wide;
            some kernels may be slower).
        strategy: "default", "mirrored" or "multi_worker"
            (`ganomaly_keras.training.execution.make_strategy`), or a `tf.distribute.Strategy`.
            Under "multi_worker" every worker runs this same call; the chief writes
            `run_dir`, the others a private `run_dir/workers/<task>` folder, and only
            the chief exports.
        precision: "float32", "mixed_bfloat16", "mixed_float16" or "auto"
            (`ganomaly_keras.training.precision.resolve_precision`: bfloat16 on a CPU with
            AVX512_BF16 or AMX, else float32); mixed_float16 is refused for now. It applies to
            training and validation during training only: the selected model is
            rebuilt in float32 before calibration, testing, saving and export.
        steps_per_execution: training steps per call into TensorFlow (`compile`'s
            argument): fewer round trips from Python per step, for machines where
            a step is short; on a 2-core CPU at 32x32, batch 64, 10 measured 0.97x
            the images/s of 1 (docs/results.md, "Speed, side by side"). Callbacks then see batches in
            groups; with `steps`, the budget and `validation_every` must be
            multiples of it.

    Returns:
        the run's metrics (also written to metrics.json): data, selected epoch,
        score choice, validation and test figures, training steps, calibration,
        export paths.

    Every argument is checked before anything is read or written. While the run
    trains it holds a lock on `run_dir` (`ganomaly_keras.training.lock`): a second run
    there fails at once, and a killed run's lock dies with its process.
    """
    export_formats = tuple(export_formats)
    config, budget = run_config(
        spec, model_options, detector, epochs, steps, validation_every, batch_size,
        jit_compile, export_formats, augment, deterministic, precision, steps_per_execution,
    )
    run_dir = os.fspath(run_dir)
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ValueError(f"run_dir {run_dir!r} is a file; give a folder path.")
    if not isinstance(strategy, tf.distribute.Strategy):
        strategy = make_strategy(strategy)
    if deterministic:
        enable_determinism(spec.seed)
    chief, task = worker_role() if _multi_worker(strategy) else (True, "chief")
    if not chief:  # every worker trains; only the chief's folder is the run
        run_dir = os.path.join(run_dir, "workers", task)
        export_formats = ()
    created = first_missing_folder(run_dir)
    try:
        with RunLock(run_dir):
            check_resumable(run_dir, config, overwrite)
            return _run_steps(run_dir, spec, config, budget, export_formats, overwrite,
                              verbose, augment, strategy)
    except BaseException:
        # A run that failed before writing its config leaves no folder behind.
        if created and not os.path.exists(os.path.join(run_dir, "config.json")):
            shutil.rmtree(created, ignore_errors=True)
        raise


def _multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _run_steps(run_dir, spec, config, budget, export_formats, overwrite, verbose, augment,
               strategy):
    """`train_run` once its arguments are checked and `run_dir` is locked."""
    times = PhaseTimes()
    # Data and model first: bad settings fail before the run directory is touched.
    with times.phase("data"):
        splits = spec.splits()
    training = config["training"]
    auto_score = config["model"].get("score") == AUTO_SCORE
    with times.phase("model"):
        model = _build_detector(config, spec, splits["channels"], strategy, auto_score)
    if overwrite:
        clear_run_directory(run_dir)
    write_json_atomically(os.path.join(run_dir, "config.json"), config)
    labelled = len(set(splits["validation"].labels.tolist())) == 2
    callbacks, checkpoint, history = _callbacks(
        run_dir, model, splits, labelled, auto_score, training["steps"]
    )
    with times.phase("fit"):
        _fit(model, splits["train"], spec, training, budget, augment, times.timed(callbacks),
             verbose)
    trained_steps = int(model.optimizer.iterations.numpy())
    with times.phase("selection"):
        model, selected = _select_epoch(model, checkpoint, budget[0])
        model = float32_copy(model)  # mixed precision trains; float32 scores and exports
    with times.phase("calibration"):
        # Statistics of the standardised terms: normal training images, never the
        # validation images a score is selected and calibrated on.
        model.fit_normal_statistics(model.statistics_sample(splits["train_sample"]))
        model, score_choice = select_score(model, splits["validation"], auto_score, labelled)
        val = splits["validation"]
        model.calibrate(val.images, val.labels if labelled else None)
    with times.phase("save"):
        save_model_atomically(model, os.path.join(run_dir, "model.keras"))
    with times.phase("test"):
        metrics = report_test(run_dir, model, splits, labelled)
    metrics.update(
        selected_epoch=selected["epoch"],
        selected_by=selected["monitor"] or "last epoch (validation has no anomalies)",
        score=score_choice,
        training_steps=trained_steps,
        training_seconds_this_session=round(times.phases["fit"], 1),
        resumed_at_epoch=history.first_epoch or None,
        calibration=model.calibration._asdict(),
    )
    with times.phase("export"):
        export_run(run_dir, model, splits, export_formats, metrics, selected, score_choice)
    with times.phase("report"):
        build_report(run_dir, model, splits, metrics)
    metrics["timings"] = times.summary()
    if verbose:
        print(describe_times(metrics["timings"]))
    write_json_atomically(os.path.join(run_dir, "metrics.json"), metrics)
    return metrics


def _build_detector(config, spec, channels, strategy, auto_score):
    """The compiled detector of the run, built under `strategy`."""
    keras.utils.set_random_seed(spec.seed)
    options = {k: v for k, v in config["model"].items() if not (k == "score" and auto_score)}
    if strategy.num_replicas_in_sync > 1:
        # Distributed training computes what one device computes on the global batch.
        options["sync_batchnorm"] = True
    with strategy.scope(), dtype_policy(config["training"]["dtype_policy"]):
        model = detector_class(config["detector"])(
            image_size=spec.image_size, channels=channels, seed=spec.seed,
            working_size=spec.working_size, **options,
        )
        model.compile(
            jit_compile=config["training"]["jit_compile"],
            steps_per_execution=config["training"].get("steps_per_execution", 1),
        )
    return model


def _callbacks(run_dir, model, splits, labelled, auto_score, steps):
    """`(callbacks, checkpoint or None, history)` of a run."""
    val = splits["validation"]
    log_dir = os.path.join(run_dir, "logs")
    callbacks, checkpoint = [], None
    if labelled:
        checkpoint = BestModelCheckpoint(
            os.path.join(run_dir, "best.keras"), mode="max",
            # With masks: image AUROC and AUPRO together (AUROCCallback's val_selection).
            monitor="val_selection" if val.masks is not None else "val_auroc",
            tie_breaker="val_aupro" if val.masks is not None else None,
        )
        auroc = AUROCCallback(
            val.images, val.labels, masks=val.masks,
            terms=model.available_scores if auto_score else None,
            normal_images=splits["train_sample"],
        )
        callbacks += [
            auroc,
            checkpoint,
            TensorBoardImages(log_dir, val.images, val.labels, masks=val.masks, auroc=auroc),
        ]
    if steps is not None:
        callbacks.append(StepBudget(steps))
    history = RunHistory(os.path.join(run_dir, "history.json"))
    callbacks += [
        # History before the backup: an interruption between the two redoes the
        # epoch, and RunHistory drops its row, rather than leaving a gap.
        history,
        # double_checkpoint: a crash while writing the backup falls back to the
        # previous one instead of losing the run.
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"), double_checkpoint=True),
        keras.callbacks.TensorBoard(log_dir),
    ]
    return callbacks, checkpoint, history


def _fit(model, train, spec, training, budget, augment, callbacks, verbose):
    """`model.fit` on the training split; names a damaged training file if one
    stops it."""
    steps = training["steps"]
    train_input = training_input(
        train, spec, training["batch_size"], repeat=steps is not None, augment=augment
    )
    streamed = not isinstance(train_input, np.ndarray)  # batched and shuffled already
    try:
        model.fit(
            train_input, epochs=budget[0], steps_per_epoch=budget[1],
            batch_size=None if streamed else training["batch_size"],
            shuffle=not streamed, callbacks=callbacks, verbose=verbose,
        )
    except tf.errors.InvalidArgumentError:
        # A training file damaged past its header fails inside TensorFlow's decoder,
        # unnamed: find it. (Files that are no image at all fail named already.)
        if isinstance(train, FileSplit):
            skipped = find_unreadable(train.paths, spec.image_size, spec.channels or 1)
            if skipped:
                raise unreadable_error(skipped) from None
        raise


def _select_epoch(model, checkpoint, epochs):
    """The model of the best epoch by the checkpoint's monitor (the last epoch's
    without labelled validation), and `{"monitor", "epoch"}`."""
    if checkpoint is not None and checkpoint.best_epoch is not None:
        return load_model(checkpoint.path), {
            "monitor": checkpoint.monitor, "epoch": checkpoint.best_epoch,
        }
    return model, {"monitor": None, "epoch": epochs - 1}
