"""A run directory's files and states: what a run, `evaluate`, `export` and
`predict` read back from it.

    <run_dir>/config.json        data spec, model and training options
    <run_dir>/backup/            Keras BackupAndRestore state (resume after a crash)
    <run_dir>/logs/              TensorBoard: losses, val_auroc, images, ROC
    <run_dir>/history.json       every epoch's logs
    <run_dir>/best.keras         the model of the epoch with the best val_auroc
    <run_dir>/model.keras        that model, calibrated on validation data
    <run_dir>/metrics.json       validation and test figures
    <run_dir>/roc_curve.png      the test ROC curve
    <run_dir>/score_histogram.png  test scores of normal and anomalous images
    <run_dir>/test_scores.csv    every test image's served outputs, label and defect type
    <run_dir>/report.html        the run to look at (ganomaly_keras.training.report)
    <run_dir>/export/            every export format (see ganomaly_keras.deploy.export)
"""

import json
import os
import shutil

from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.training.lock import LOCK_NAME


class RunError(Exception):
    """A run directory in a state the asked command cannot use."""


def load_config(run_dir):
    """The run's config.json as a dict, or None when there is none."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def load_run_spec(run_dir):
    """The `DataSpec` a run was trained with."""
    config = load_config(run_dir)
    if config is None:
        raise RunError(f"{run_dir} is not a run directory (no config.json).")
    return DataSpec.from_dict(config["data"])


def check_resumable(run_dir, config, overwrite):
    """Raise RunError unless a run with `config` may start or resume in `run_dir`."""
    previous = load_config(run_dir)
    if previous is None or overwrite:
        return
    if previous != json.loads(json.dumps(config)):
        raise RunError(
            f"{run_dir} holds a run with other settings; pass --overwrite to start "
            "over there, or choose another --run-dir."
        )
    if os.path.exists(os.path.join(run_dir, "metrics.json")):
        raise RunError(
            f"{run_dir} holds a finished run (metrics.json); pass --overwrite to "
            "train again, or choose another --run-dir."
        )


def first_missing_folder(path):
    """The outermost folder of `path` that does not exist yet (None if it exists)."""
    path, missing = os.path.abspath(path), None
    while not os.path.exists(path):
        missing, parent = path, os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def clear_run_directory(run_dir):
    """Everything in `run_dir` but its lock file (held by this process)."""
    for name in os.listdir(run_dir):
        if name == LOCK_NAME:
            continue
        path = os.path.join(run_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


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
