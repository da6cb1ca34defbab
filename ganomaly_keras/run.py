"""A training run in a run directory: train, select, calibrate, test once, export.

    <run_dir>/config.json        data spec, model and training options
    <run_dir>/backup/            Keras BackupAndRestore state (resume after a crash)
    <run_dir>/logs/              TensorBoard: losses, val_auroc, images, ROC
    <run_dir>/history.json       every epoch's logs
    <run_dir>/best.keras         the model of the epoch with the best val_auroc
    <run_dir>/model.keras        that model, calibrated on validation data
    <run_dir>/metrics.json       validation and test figures
    <run_dir>/roc_curve.png      the test ROC curve
    <run_dir>/export/            every export format (see ganomaly_keras.export)

Model selection (best epoch) and calibration use the validation split only; the test
split is scored once, at the end. Rerunning the same command on an interrupted run
resumes at the epoch it reached.
"""

import json
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from ganomaly_keras import arguments
from ganomaly_keras.callbacks import (
    AUROCCallback,
    BestModelCheckpoint,
    RunHistory,
    StepBudget,
)
from ganomaly_keras.data.folders import FileSplit, find_unreadable, unreadable_error
from ganomaly_keras.data.spec import DataSpec, training_input
from ganomaly_keras.evaluation import evaluate_detector, ranking_metrics
from ganomaly_keras.export import (
    EXPORT_FORMATS,
    export_model,
    supported_formats,
    unsupported_formats,
)
from ganomaly_keras.models import (
    EGBAD,
    AnoGAN,
    GANomaly,
    SimultaneousEncoderGAN,
    SkipGANomaly,
)
from ganomaly_keras.execution import enable_determinism, make_strategy, worker_role
from ganomaly_keras.run_lock import LOCK_NAME, RunLock
from ganomaly_keras.saving import load_model, save_model_atomically, write_json_atomically
from ganomaly_keras.tensorboard import TensorBoardImages, roc_curve_image

# The detectors a run can train, by name; options are their constructor arguments.
DETECTORS = {
    "ganomaly": GANomaly,
    "skip_ganomaly": SkipGANomaly,
    "simultaneous_encoder_gan": SimultaneousEncoderGAN,
    "egbad": EGBAD,
    "anogan": AnoGAN,
}
SHARED_OPTIONS = ("latent_size", "width", "extra_layers", "adversarial_weight", "contextual_weight")
# Every detector takes these (AdversarialDetector's arguments).
SCORE_OPTIONS = ("score", "map_smoothing")
MODEL_OPTIONS = {
    "ganomaly": SHARED_OPTIONS + ("encoder_weight",) + SCORE_OPTIONS,
    "skip_ganomaly": SHARED_OPTIONS
    + ("latent_weight", "reconstruction_score_weight", "feature_score_weight")
    + SCORE_OPTIONS,
    "simultaneous_encoder_gan": (
        "latent_size", "width", "critic_steps", "gradient_penalty_weight",
        "latent_norm_weight",
    ) + SCORE_OPTIONS,
    "egbad": ("latent_size", "width", "reconstruction_score_weight", "feature_score_weight")
    + SCORE_OPTIONS,
    "anogan": ("latent_size", "width", "search_steps") + SCORE_OPTIONS,
}
# `score="auto"`: the term with the best validation AUROC, ties broken in this order
# (map terms see small defects; then the standardised combinations; then the paper's).
AUTO_SCORE = "auto"
AUTO_PREFERENCE = (
    "residual_max", "feature_max", "residual_topk", "standardized_sum", "standardized_max",
)
# What `train --folder` uses unless told otherwise: a folder is an inspection task.
# Measured on PIPED (README, "Inspection on real data").
INSPECTION_DEFAULTS = {"image_size": 64, "steps": 150, "batch_size": 32, "score": AUTO_SCORE}


class RunError(Exception):
    """A run directory in a state the asked command cannot use."""


def _load_config(run_dir):
    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def load_run_spec(run_dir):
    """The `DataSpec` a run was trained with."""
    config = _load_config(run_dir)
    if config is None:
        raise RunError(f"{run_dir} is not a run directory (no config.json).")
    return DataSpec.from_dict(config["data"])


def _finite(value):
    return None if value is None or not np.isfinite(value) else float(value)


def choose_score(aurocs, paper_scores):
    """The score term with the highest validation AUROC.

    Ties (within 1e-9) go to the earliest of `AUTO_PREFERENCE`, then of
    `paper_scores`. Only validation figures may be passed here.

    Args:
        aurocs: dict of term -> validation AUROC.
        paper_scores: the model's paper terms.
    """
    order = [t for t in AUTO_PREFERENCE + tuple(paper_scores) if t in aurocs]
    best = max(aurocs[t] for t in order)
    return next(t for t in order if aurocs[t] >= best - 1e-9)


def _budget(epochs, steps, validation_every):
    """`(epochs, steps_per_epoch)` for `fit`: epochs as given, or a step budget
    split into `validation_every`-step epochs."""
    if steps is None:
        if epochs is None or int(epochs) != epochs or epochs < 1:
            raise ValueError(f"epochs must be a positive integer; got {epochs!r}.")
        return int(epochs), None
    if epochs is not None:
        raise ValueError("give epochs or steps, not both.")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}.")
    every = validation_every or max(1, -(-int(steps) // 5))
    if int(every) != every or every < 1:
        raise ValueError(f"validation_every must be a positive integer; got {every!r}.")
    every = min(int(every), int(steps))
    return -(-int(steps) // every), every


def train_run(
    run_dir,
    spec,
    model_options=None,
    detector="ganomaly",
    epochs=None,
    batch_size=64,
    jit_compile="auto",
    export_formats=EXPORT_FORMATS,
    overwrite=False,
    verbose="auto",
    steps=None,
    validation_every=None,
    augment=False,
    deterministic=False,
    strategy="default",
):
    """Train, select on validation, calibrate, test once, export. Returns metrics.

    Args:
        run_dir: the run directory (created; an interrupted run there resumes).
        spec: a `DataSpec`.
        model_options: dict of the detector's constructor options
            (`MODEL_OPTIONS[detector]`).
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
        deterministic: bit-identical weights and scores for the same seed, data
            and machine (`ganomaly_keras.execution.enable_determinism`; process-wide;
            some kernels may be slower).
        strategy: "default", "mirrored" or "multi_worker"
            (`ganomaly_keras.execution.make_strategy`), or a `tf.distribute.Strategy`.
            Under "multi_worker" every worker runs this same call; the chief writes
            `run_dir`, the others a private `run_dir/workers/<task>` folder, and
            only the chief exports.

    Every argument is checked before anything is read or written. While the run
    trains it holds a lock on `run_dir` (`ganomaly_keras.run_lock`): a second run
    there fails at once, and a killed run's lock dies with its process.

    With `model_options["score"] == "auto"`, every score term is compared on the
    validation split at each validation, the best (epoch, term) pair is kept, and
    the chosen term is recorded in metrics.json and the export's metadata.
    """
    if epochs is None and steps is None:
        epochs = 15
    epochs_to_run, steps_per_epoch = _budget(epochs, steps, validation_every)
    batch_size = arguments.positive_integer("batch_size", batch_size)
    arguments.choice("detector", detector, sorted(DETECTORS))
    arguments.choice("jit_compile", jit_compile, ("auto", True, False))
    export_formats = tuple(export_formats)
    for name in export_formats:
        arguments.choice("export format", name, EXPORT_FORMATS)
    if not isinstance(spec, DataSpec):
        raise ValueError(f"spec must be a ganomaly_keras.data.spec.DataSpec; got {spec!r}.")
    run_dir = os.fspath(run_dir)
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ValueError(f"run_dir {run_dir!r} is a file; give a folder path.")
    model_options = dict(model_options or {})
    unknown = set(model_options) - set(MODEL_OPTIONS[detector])
    if unknown:
        raise ValueError(
            f"{detector} has no options {sorted(unknown)}; it takes "
            f"{MODEL_OPTIONS[detector]}."
        )
    if not isinstance(strategy, tf.distribute.Strategy):
        strategy = make_strategy(strategy)
    if deterministic:
        enable_determinism(spec.seed)
    chief, task = worker_role() if _multi_worker(strategy) else (True, "chief")
    if not chief:  # every worker trains; only the chief's folder is the run
        run_dir = os.path.join(run_dir, "workers", task)
        export_formats = ()
    created = _first_missing_folder(run_dir)
    try:
        with RunLock(run_dir):
            return _train_locked(
                run_dir, spec, model_options, detector, epochs, steps, epochs_to_run,
                steps_per_epoch, batch_size, jit_compile, export_formats, overwrite,
                verbose, augment, deterministic, strategy,
            )
    except BaseException:
        # A run that failed before writing its config leaves no folder behind.
        if created and not os.path.exists(os.path.join(run_dir, "config.json")):
            shutil.rmtree(created, ignore_errors=True)
        raise


def _first_missing_folder(path):
    """The outermost folder of `path` that does not exist yet (None if it exists)."""
    path, missing = os.path.abspath(path), None
    while not os.path.exists(path):
        missing, parent = path, os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _clear_run_directory(run_dir):
    """Everything in `run_dir` but its lock file (held by this process)."""
    for name in os.listdir(run_dir):
        if name == LOCK_NAME:
            continue
        path = os.path.join(run_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def _train_locked(
    run_dir, spec, model_options, detector, epochs, steps, epochs_to_run,
    steps_per_epoch, batch_size, jit_compile, export_formats, overwrite, verbose,
    augment, deterministic, strategy,
):
    """`train_run` once its arguments are checked and `run_dir` is locked."""
    config = {
        "data": spec.to_dict(),
        "detector": detector,
        "model": model_options,
        "training": {
            "epochs": epochs, "steps": steps, "validation_every": steps_per_epoch,
            "batch_size": batch_size, "jit_compile": jit_compile, "augment": bool(augment),
            "deterministic": bool(deterministic),
        },
        "export_formats": list(export_formats),
    }
    previous = _load_config(run_dir)
    finished = os.path.exists(os.path.join(run_dir, "metrics.json"))
    if previous is not None and not overwrite:
        if previous != json.loads(json.dumps(config)):
            raise RunError(
                f"{run_dir} holds a run with other settings; pass --overwrite to start "
                "over there, or choose another --run-dir."
            )
        if finished:
            raise RunError(
                f"{run_dir} holds a finished run (metrics.json); pass --overwrite to "
                "train again, or choose another --run-dir."
            )
    # Data and model first: bad settings fail before the run directory is touched.
    splits = spec.splits()
    val, test = splits["validation"], splits["test"]
    keras.utils.set_random_seed(spec.seed)
    auto_score = model_options.get("score") == AUTO_SCORE
    constructor_options = {
        k: v for k, v in model_options.items() if not (k == "score" and auto_score)
    }
    with strategy.scope():
        model = DETECTORS[detector](
            image_size=spec.image_size, channels=splits["channels"], seed=spec.seed,
            working_size=spec.working_size,
            **_sync_batchnorm(strategy), **constructor_options,
        )
        model.compile(jit_compile=jit_compile)
    if overwrite:
        _clear_run_directory(run_dir)
    write_json_atomically(os.path.join(run_dir, "config.json"), config)
    log_dir = os.path.join(run_dir, "logs")
    best_path = os.path.join(run_dir, "best.keras")
    has_both_labels = len(set(val.labels.tolist())) == 2
    callbacks = []
    if has_both_labels:
        callbacks += [
            AUROCCallback(
                val.images, val.labels,
                terms=model.available_scores if auto_score else None, masks=val.masks,
                normal_images=splits["train_sample"],
            ),
            BestModelCheckpoint(
                best_path, monitor="val_auroc", mode="max",
                tie_breaker="val_aupro" if val.masks is not None else None,
            ),
            TensorBoardImages(log_dir, val.images, val.labels, masks=val.masks),
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
        keras.callbacks.BackupAndRestore(
            os.path.join(run_dir, "backup"), double_checkpoint=True
        ),
        keras.callbacks.TensorBoard(log_dir),
    ]
    start = time.perf_counter()
    train_input = training_input(
        splits["train"], spec, batch_size, repeat=steps is not None, augment=augment
    )
    streamed = not isinstance(train_input, np.ndarray)  # batched and shuffled already
    try:
        model.fit(
            train_input,
            epochs=epochs_to_run,
            steps_per_epoch=steps_per_epoch,
            batch_size=None if streamed else batch_size,
            shuffle=not streamed,
            callbacks=callbacks,
            verbose=verbose,
        )
    except tf.errors.InvalidArgumentError:
        # A training file damaged past its header fails inside TensorFlow's decoder,
        # unnamed: find it. (Files that are no image at all fail named already.)
        skipped = _unreadable_training_files(splits["train"], spec)
        if skipped:
            raise unreadable_error(skipped) from None
        raise
    seconds = time.perf_counter() - start
    trained_steps = int(model.optimizer.iterations.numpy())

    # Select: the best epoch by val_auroc (the last epoch without labelled validation).
    if has_both_labels and os.path.exists(best_path):
        model = load_model(best_path)
        with open(best_path + ".best.json") as handle:
            selected = json.load(handle)
    else:
        selected = {"monitor": None, "epoch": epochs_to_run - 1}
    # Statistics of the standardised terms: normal training images, never the
    # validation images a score is selected and calibrated on.
    model.fit_normal_statistics(splits["train_sample"])
    score_choice = {"name": model.score, "selected_by": "given"}
    if auto_score and has_both_labels:
        aurocs = {
            name: ranking_metrics(values, val.labels)["auroc"]
            for name, values in model.predict_terms(val.images).items()
        }
        chosen = choose_score(aurocs, model.paper_scores)
        model = model.with_score(chosen)
        score_choice = {
            "name": chosen, "selected_by": "validation AUROC (score=auto)",
            "validation_auroc_by_term": aurocs,
        }
    elif auto_score:
        score_choice["selected_by"] = "default: validation has no anomalies for score=auto"
    score_choice["definition"] = model.score_definition
    model.calibrate(val.images, val.labels if has_both_labels else None)
    save_model_atomically(model, os.path.join(run_dir, "model.keras"))
    result = evaluate_detector(model, test.images, test.labels, masks=test.masks)
    Image.fromarray(roc_curve_image(result["scores"], test.labels)).save(
        os.path.join(run_dir, "roc_curve.png")
    )
    validation = (
        evaluate_detector(model, val.images, val.labels, masks=val.masks)
        if has_both_labels else {}
    )
    metrics = {
        "data": splits["summary"],
        "selected_epoch": selected["epoch"],
        "selected_by": selected["monitor"] or "last epoch (validation has no anomalies)",
        "score": score_choice,
        "validation": {
            k: _finite(validation.get(k))
            for k in ("auroc", "aupr", "f1", "pixel_auroc", "aupro")
            if k in validation
        },
        "test": {
            k: _finite(result.get(k))
            for k in ("auroc", "aupr", "precision", "recall", "f1", "threshold",
                      "pixel_auroc", "aupro")
            if k in result
        },
        "pixel_evaluation": (
            "anomaly maps upsampled bilinearly to the masks' "
            f"{result['mask_resolution']}x{result['mask_resolution']} pixels"
            if "mask_resolution" in result else None
        ),
        "skipped_files": splits.get("skipped") or None,
        "training_steps": trained_steps,
        "training_seconds_this_session": round(seconds, 1),
        "resumed_at_epoch": history.first_epoch or None,
        "calibration": model.calibration._asdict(),
    }
    unsupported = unsupported_formats(model, export_formats)
    if unsupported:
        metrics["export_skipped"] = unsupported
        for name, reason in unsupported.items():
            print(f"Not exported as {name}: {reason}")
    export_formats = supported_formats(model, export_formats)
    if export_formats:
        paths = export_model(
            model,
            os.path.join(run_dir, "export"),
            formats=export_formats,
            representative_data=splits["train_sample"],
            training_data=splits["summary"],
            validation={
                "auroc": metrics["validation"].get("auroc"),
                "selected_epoch": selected["epoch"],
                "score_selected_by": score_choice["selected_by"],
            },
        )
        metrics["export"] = {k: os.path.relpath(v, run_dir) for k, v in paths.items()}
    write_json_atomically(os.path.join(run_dir, "metrics.json"), metrics)
    return metrics


def _unreadable_training_files(train, spec):
    if not isinstance(train, FileSplit):
        return []
    return find_unreadable(train.paths, spec.image_size, spec.channels or 1)


def _sync_batchnorm(strategy):
    """`sync_batchnorm=True` under a strategy of several replicas, so that training
    computes what one device computes on the global batch."""
    if strategy.num_replicas_in_sync > 1:
        return {"sync_batchnorm": True}
    return {}


def resolve_model_path(path):
    """A `.keras` file, or the calibrated model of a run directory."""
    if os.path.isdir(path):
        for candidate in ("model.keras", os.path.join("export", "model.keras")):
            if os.path.exists(os.path.join(path, candidate)):
                return os.path.join(path, candidate)
        raise RunError(f"{path} holds no model.keras; finish training there first.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model at {path!r}.")
    if not path.endswith(".keras"):
        raise ValueError(f"{path} is not a .keras model file or a run directory.")
    return path
