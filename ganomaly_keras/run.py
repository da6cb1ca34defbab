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
from PIL import Image

from ganomaly_keras.callbacks import AUROCCallback, BestModelCheckpoint, RunHistory
from ganomaly_keras.data.spec import DataSpec, training_input
from ganomaly_keras.evaluation import evaluate_detector
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
from ganomaly_keras.saving import save_model_atomically, write_json_atomically
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
MODEL_OPTIONS = {
    "ganomaly": SHARED_OPTIONS + ("encoder_weight", "score"),
    "skip_ganomaly": SHARED_OPTIONS
    + ("latent_weight", "reconstruction_score_weight", "feature_score_weight"),
    "simultaneous_encoder_gan": (
        "latent_size", "width", "critic_steps", "gradient_penalty_weight", "score",
        "latent_norm_weight",
    ),
    "egbad": ("latent_size", "width", "reconstruction_score_weight", "feature_score_weight"),
    "anogan": ("latent_size", "width", "search_steps"),
}


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


def train_run(
    run_dir,
    spec,
    model_options=None,
    detector="ganomaly",
    epochs=15,
    batch_size=64,
    jit_compile="auto",
    export_formats=EXPORT_FORMATS,
    overwrite=False,
    verbose="auto",
):
    """Train, select on validation, calibrate, test once, export. Returns metrics.

    Args:
        run_dir: the run directory (created; an interrupted run there resumes).
        spec: a `DataSpec`.
        model_options: dict of the detector's constructor options
            (`MODEL_OPTIONS[detector]`).
        detector: a name in `DETECTORS`: "ganomaly", "skip_ganomaly",
            "simultaneous_encoder_gan", "egbad" or "anogan".
        epochs, batch_size: training length and batch.
        jit_compile: passed to `compile`.
        export_formats: formats for `export_model`; empty for none. Formats the
            detector cannot produce are skipped, with the reason in metrics.json.
        overwrite: start over in a run directory that holds another or a finished run.
        verbose: Keras' progress bar setting.
    """
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {sorted(DETECTORS)}; got {detector!r}.")
    model_options = dict(model_options or {})
    unknown = set(model_options) - set(MODEL_OPTIONS[detector])
    if unknown:
        raise ValueError(
            f"{detector} has no options {sorted(unknown)}; it takes "
            f"{MODEL_OPTIONS[detector]}."
        )
    config = {
        "data": spec.to_dict(),
        "detector": detector,
        "model": model_options,
        "training": {"epochs": epochs, "batch_size": batch_size, "jit_compile": jit_compile},
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
    model = DETECTORS[detector](
        image_size=spec.image_size, channels=splits["channels"], seed=spec.seed, **model_options
    )
    if overwrite and os.path.isdir(run_dir):
        shutil.rmtree(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    write_json_atomically(os.path.join(run_dir, "config.json"), config)
    model.compile(jit_compile=jit_compile)
    log_dir = os.path.join(run_dir, "logs")
    best_path = os.path.join(run_dir, "best.keras")
    has_both_labels = len(set(val.labels.tolist())) == 2
    callbacks = []
    if has_both_labels:
        callbacks += [
            AUROCCallback(val.images, val.labels),
            BestModelCheckpoint(best_path, monitor="val_auroc", mode="max"),
            TensorBoardImages(log_dir, val.images, val.labels),
        ]
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
    train_input = training_input(splits["train"], spec, batch_size)
    streamed = not isinstance(train_input, np.ndarray)  # batched and shuffled already
    model.fit(
        train_input,
        epochs=epochs,
        batch_size=None if streamed else batch_size,
        shuffle=not streamed,
        callbacks=callbacks,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start

    # Select: the best epoch by val_auroc (the last epoch without labelled validation).
    if has_both_labels and os.path.exists(best_path):
        model = keras.saving.load_model(best_path)
        with open(best_path + ".best.json") as handle:
            selected = json.load(handle)
    else:
        selected = {"monitor": None, "epoch": epochs - 1}
    model.calibrate(val.images, val.labels if has_both_labels else None)
    save_model_atomically(model, os.path.join(run_dir, "model.keras"))
    result = evaluate_detector(model, test.images, test.labels)
    Image.fromarray(roc_curve_image(result["scores"], test.labels)).save(
        os.path.join(run_dir, "roc_curve.png")
    )
    validation = (
        evaluate_detector(model, val.images, val.labels) if has_both_labels else {}
    )
    metrics = {
        "data": splits["summary"],
        "selected_epoch": selected["epoch"],
        "selected_by": selected["monitor"] or "last epoch (validation has no anomalies)",
        "validation": {k: _finite(validation.get(k)) for k in ("auroc", "aupr", "f1")},
        "test": {
            k: _finite(result.get(k))
            for k in ("auroc", "aupr", "precision", "recall", "f1", "threshold")
        },
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
            validation={"auroc": metrics["validation"]["auroc"], "selected_epoch": selected["epoch"]},
        )
        metrics["export"] = {k: os.path.relpath(v, run_dir) for k, v in paths.items()}
    write_json_atomically(os.path.join(run_dir, "metrics.json"), metrics)
    return metrics


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
