"""The commands of `ganomaly-keras` end to end: train, export, evaluate and predict on
every data source, unreadable files named or skipped."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ganomaly_keras import GANomaly
from ganomaly_keras.cli.main import main
from ganomaly_keras.saving import save_model_atomically
from tests import helpers
from tests.settings import TINY_FLAGS

pytestmark = pytest.mark.usefixtures("chdir_tmp")


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


def _calibrated_model(path):
    keras.utils.set_random_seed(0)
    model = GANomaly(image_size=16, channels=1, width=8, latent_size=8)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    model.calibrate(x, np.array([0, 1] * 4))
    save_model_atomically(model, path)
    return str(path)


@pytest.mark.slow
def test_train_export_evaluate_predict_end_to_end(tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    assert main(["train", *TINY_FLAGS, "--epochs", "2", "--run-dir", run_dir]) == 0
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
    assert main(["train", *TINY_FLAGS, "--epochs", "2", "--run-dir", run_dir]) == 2
    assert "finished run" in capsys.readouterr().err


def test_anogan_run_exports_every_format_it_supports(tmp_path, capsys):
    """AnoGAN's latent search exports, except to full-integer TFLite: the run skips
    that format with the reason, and asking for it explicitly is a one-line error."""
    run_dir = str(tmp_path / "run")
    argv = ["train", *TINY_FLAGS, "--model", "anogan", "--search-steps", "5", "--epochs", "1",
            "--run-dir", run_dir]
    assert main(argv) == 0
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert list(metrics["export_skipped"]) == ["tflite_int8"]
    assert "model_float32.tflite" in os.listdir(os.path.join(run_dir, "export"))
    assert "model_int8.tflite" not in os.listdir(os.path.join(run_dir, "export"))
    capsys.readouterr()
    assert main(["export", run_dir, str(tmp_path / "e"), "--formats", "tflite_int8"]) == 2
    assert "cannot be exported as tflite_int8" in capsys.readouterr().err


@pytest.mark.parametrize("source", ["npz", "folder", "tfds"])
def test_train_runs_on_every_data_source(source, tmp_path):
    make = {"npz": lambda: _write_npz(tmp_path / "d.npz"), "folder": lambda: _write_folder(tmp_path / "f"),
            "tfds": lambda: _prepare_tfds(tmp_path / "tfds")}[source]
    run_dir = str(tmp_path / "run")
    argv = ["train", *make(), *TINY_FLAGS, "--epochs", "1", "--run-dir", run_dir,
            "--abnormal-class", "1", "--no-export"]
    assert main(argv) == 0
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["data"]["source"] == source
    assert metrics["data"]["splits"]["validation"]["anomalous"] > 0
    assert metrics["test"]["auroc"] is not None and metrics["test"]["aupr"] is not None
    assert os.path.exists(os.path.join(run_dir, "logs", "anomaly"))  # reconstructions for TensorBoard


def test_predict_names_unreadable_files_and_skips_them_when_asked(tmp_path, capsys):
    model = _calibrated_model(tmp_path / "m.keras")
    folder = str(helpers.image_folder(tmp_path / "images"))
    assert helpers.status(["predict", model, folder]) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "--skip-unreadable" in err and len(err.strip().splitlines()) == 1

    out = str(tmp_path / "scores.csv")
    assert helpers.status(["predict", model, folder, "--skip-unreadable", "--out", out]) == 0
    rows = {os.path.basename(r["path"]): r for r in csv.DictReader(open(out))}
    assert sorted(rows) == ["0.png", "1.png", "2.png", "broken.png", "empty.png"]
    assert rows["broken.png"]["skipped"] and rows["broken.png"]["anomaly_score"] == ""
    assert rows["empty.png"]["skipped"] and not rows["1.png"]["skipped"]
    assert float(rows["1.png"]["anomaly_score"]) >= 0
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.png" in err and "empty.png" in err
    assert "scored 3 images" in err and "2 skipped" in err


def test_evaluate_skips_unreadable_files_when_asked(tmp_path, capsys):
    model = _calibrated_model(tmp_path / "m.keras")
    root = tmp_path / "data"
    helpers.image_folder(root / "train" / "good", n=6, damaged=False)
    helpers.image_folder(root / "test" / "good", n=4)
    helpers.image_folder(root / "test" / "scratch", n=4, damaged=False)
    data = ["--folder", str(root), "--image-size", "16", "--channels", "1"]
    assert helpers.status(["evaluate", model, *data]) == 2
    assert "--skip-unreadable" in capsys.readouterr().err
    assert helpers.status(["evaluate", model, *data, "--skip-unreadable"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    # The two bad test/good files land in validation or test (a stratified draw).
    skipped = {os.path.basename(s["path"]) for s in report["skipped_files"]}
    assert skipped and skipped <= {"broken.png", "empty.png"}
    assert all(f"skipped {s['path']}" in captured.err for s in report["skipped_files"])


def test_a_damaged_training_file_is_named_and_can_be_skipped(tmp_path, capsys):
    root = tmp_path / "data"
    helpers.image_folder(root / "train" / "good", n=12)
    helpers.image_folder(root / "test" / "good", n=4, damaged=False)
    helpers.image_folder(root / "test" / "scratch", n=4, damaged=False)
    argv = ["train", "--folder", str(root), *TINY_FLAGS, "--channels", "1", "--steps", "2",
            "--batch-size", "4", "--no-export", "--run-dir", str(tmp_path / "run")]
    assert helpers.status(argv) == 2
    err = capsys.readouterr().err
    assert ("broken.png" in err or "empty.png" in err) and "--skip-unreadable" in err
    with pytest.warns(UserWarning, match="broken.png"):
        assert helpers.status(argv + ["--skip-unreadable", "--overwrite"]) == 0

