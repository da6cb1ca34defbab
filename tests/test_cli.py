"""The ganomaly-keras command: end to end, resuming after a kill, bad arguments."""

import csv
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image
from settings import TINY_FLAGS as TINY

from ganomaly_keras.cli.main import main


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    """Default run directories (runs/ganomaly) land in the test's folder, not the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.slow
def test_train_export_evaluate_predict_end_to_end(tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    assert main(["train", *TINY, "--epochs", "2", "--run-dir", run_dir]) == 0
    for name in (
        "config.json", "history.json", "best.keras", "model.keras", "metrics.json",
        "roc_curve.png", "logs", "export/model_int8.tflite", "export/metadata.json",
    ):
        assert os.path.exists(os.path.join(run_dir, name)), name
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    history = json.load(open(os.path.join(run_dir, "history.json")))
    best = max(range(2), key=lambda e: history[e]["val_auroc"])  # first best wins ties
    assert metrics["selected_epoch"] == best
    assert metrics["validation"]["auroc"] == pytest.approx(history[best]["val_auroc"], abs=1e-6)
    assert metrics["data"]["protocol"] == "leave_one_class_out"
    assert [row["epoch"] for row in history] == [0, 1]
    capsys.readouterr()

    # evaluate rebuilds the run's test split from config.json.
    assert main(["evaluate", run_dir]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["auroc"] == pytest.approx(metrics["test"]["auroc"], abs=1e-6)

    out = str(tmp_path / "exported")
    assert main(["export", run_dir, out, "--formats", "saved_model", "tflite_float32"]) == 0
    assert sorted(os.listdir(out)) == ["MODEL_CARD.md", "metadata.json", "model_float32.tflite", "saved_model"]

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 20), 60 * i, np.uint8)).save(folder / f"{i}.png")
    assert main(["predict", run_dir, str(folder), "--out", str(tmp_path / "p.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [os.path.basename(r["path"]) for r in rows] == ["0.png", "1.png", "2.png"]
    assert {r["is_anomaly"] for r in rows} <= {"0", "1"}
    calibration = metrics["calibration"]
    for r in rows:
        span = calibration["score_max"] - calibration["score_min"]
        expected = min(max((float(r["anomaly_score"]) - calibration["score_min"]) / span, 0), 1)
        assert float(r["normalized_score"]) == pytest.approx(expected, abs=1e-6)
        assert r["is_anomaly"] == str(int(float(r["anomaly_score"]) > calibration["threshold"]))

    # A finished run is not silently retrained.
    assert main(["train", *TINY, "--epochs", "2", "--run-dir", run_dir]) == 2
    assert "finished run" in capsys.readouterr().err


def test_anogan_run_exports_every_format_it_supports(tmp_path, capsys):
    """AnoGAN's latent search exports, except to full-integer TFLite: the run skips
    that format with the reason, and asking for it explicitly is a one-line error."""
    run_dir = str(tmp_path / "run")
    argv = ["train", *TINY, "--model", "anogan", "--search-steps", "5", "--epochs", "1",
            "--run-dir", run_dir]
    assert main(argv) == 0
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert list(metrics["export_skipped"]) == ["tflite_int8"]
    assert "model_float32.tflite" in os.listdir(os.path.join(run_dir, "export"))
    assert "model_int8.tflite" not in os.listdir(os.path.join(run_dir, "export"))
    capsys.readouterr()
    assert main(["export", run_dir, str(tmp_path / "e"), "--formats", "tflite_int8"]) == 2
    assert "cannot be exported as tflite_int8" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--npz", "/no/such/file.npz"], "does not exist"),
        (["train", "--folder", "/no/such/folder"], "does not exist"),
        (["train", "--image-size", "20"], "power of two"),
        (["train", "--contamination", "0.5", "--normal-class", "1"], "one-class"),
        (["predict", "/no/model.keras", "."], "no model at"),
    ],
)
def test_bad_arguments_end_with_one_line_and_status_2(argv, message, capsys):
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)


def test_unknown_tfds_dataset_is_one_line(tmp_path, capsys):
    argv = ["train", "--tfds", "no_such_dataset_xyz", "--tfds-data-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "no dataset named 'no_such_dataset_xyz'" in capsys.readouterr().err


@pytest.mark.slow
def test_killed_training_resumes_where_it_stopped(tmp_path):
    run_dir = tmp_path / "run"
    # 5 epochs: killed after the second is logged (an epoch takes far longer than the
    # 50 ms poll), so the resumed run still has epochs to do.
    argv = [sys.executable, "-m", "ganomaly_keras", "train", *TINY, "--epochs", "5",
            "--no-export", "--run-dir", str(run_dir)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    history_path = run_dir / "history.json"
    deadline = time.time() + 240
    rows = []
    while time.time() < deadline and process.poll() is None:
        if history_path.exists():
            rows = json.loads(history_path.read_text())
            if len(rows) >= 2:
                break
        time.sleep(0.05)
    process.kill()
    process.wait()
    assert 2 <= len(rows) < 5, "training was not interrupted mid-run"
    before = json.loads(history_path.read_text())  # the file as the kill left it

    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    history = json.loads(history_path.read_text())
    assert [row["epoch"] for row in history] == list(range(5))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    resumed = metrics["resumed_at_epoch"]
    # It went on from the last backed-up epoch (the one in progress is redone) ...
    assert resumed is not None and len(before) - 1 <= resumed <= len(before)
    assert f"resuming at epoch {resumed + 1}" in result.stderr
    # ... and the epochs from before the kill keep their logged values.
    assert history[:resumed] == before[:resumed]


def _write_npz(path):
    rng = np.random.default_rng(0)
    classes = np.repeat(np.arange(3), 40)
    images = np.stack([np.full((20, 20), 60 * c, np.uint8) for c in classes])
    images = np.clip(images + rng.integers(0, 30, images.shape), 0, 255).astype(np.uint8)
    np.savez(path, x_train=images[::2], y_train=classes[::2], x_test=images[1::2], y_test=classes[1::2])
    return ["--npz", str(path)]


def _write_folder(root):
    for folder, n, value in (("train/good", 24, 40), ("test/good", 6, 40), ("test/scratch", 6, 200)):
        os.makedirs(root / folder)
        for i in range(n):
            Image.fromarray(np.full((24, 24, 3), value, np.uint8)).save(root / folder / f"{i}.png")
    return ["--folder", str(root), "--channels", "3"]


def _prepare_tfds(data_dir):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    classes = np.repeat(np.arange(3), 30)
    images = np.stack([np.full((12, 12, 1), 70 * c, np.uint8) for c in classes])
    data = tf.data.Dataset.from_tensor_slices({"image": images, "label": classes})
    tfds.dataset_builders.TfDataBuilder(
        name="tiny_cli_shapes", config="default", version="1.0.0",
        split_datasets={"train": data, "test": data},
        features=tfds.features.FeaturesDict(
            {"image": tfds.features.Image(shape=(12, 12, 1)), "label": tfds.features.ClassLabel(num_classes=3)}
        ),
        data_dir=str(data_dir),
    ).download_and_prepare()
    return ["--tfds", "tiny_cli_shapes", "--tfds-data-dir", str(data_dir)]


@pytest.mark.parametrize("source", ["npz", "folder", "tfds"])
def test_train_runs_on_every_data_source(source, tmp_path):
    make = {"npz": lambda: _write_npz(tmp_path / "d.npz"), "folder": lambda: _write_folder(tmp_path / "f"),
            "tfds": lambda: _prepare_tfds(tmp_path / "tfds")}[source]
    run_dir = str(tmp_path / "run")
    argv = ["train", *make(), *TINY, "--epochs", "1", "--run-dir", run_dir,
            "--abnormal-class", "1", "--no-export"]
    assert main(argv) == 0
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["data"]["source"] == source
    assert metrics["data"]["splits"]["validation"]["anomalous"] > 0
    assert metrics["test"]["auroc"] is not None and metrics["test"]["aupr"] is not None
    assert os.path.exists(os.path.join(run_dir, "logs", "anomaly"))  # reconstructions for TensorBoard
