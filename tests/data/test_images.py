"""data/images.py, the one image path: its rules, and one score per image whichever
way the image is scored (evaluate, predict, the edge runner)."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganomaly_keras.cli.main import main
from ganomaly_keras.data.images import (
    ImageReadError,
    image_files,
    read_pixels,
    resize_pixels,
    to_model_input,
)
from tests.settings import REPO


def _odd_folder(root):
    """An MVTec-layout folder of odd-sized images: non-square, grayscale and RGB
    mixed, defects brighter blobs."""
    rng = np.random.default_rng(0)
    shapes = [(23, 37), (40, 31), (19, 19), (64, 48), (33, 50)]

    def save(path, i, defect):
        h, w = shapes[i % len(shapes)]
        image = rng.integers(60, 120, (h, w, 3)).astype(np.uint8)
        if defect:
            image[h // 3 : h // 3 + 6, w // 3 : w // 3 + 6] = 250
        path.parent.mkdir(parents=True, exist_ok=True)
        picture = Image.fromarray(image)
        (picture.convert("L") if i % 2 else picture).save(path)

    for i in range(24):
        save(root / "train" / "good" / f"{i:03d}.png", i, False)
    for i in range(10):
        save(root / "test" / "good" / f"{i:03d}.png", i, False)
        save(root / "test" / "blob" / f"{i:03d}.png", i, True)
    return root


def _rows(path):
    with open(path) as handle:
        return {os.path.realpath(r["path"]): r for r in csv.DictReader(handle)}


def _threshold(run):
    import json

    with open(os.path.join(run, "export", "metadata.json")) as handle:
        return json.load(handle)["threshold"]


def test_colour_becomes_grayscale_by_luma_and_grayscale_becomes_colour(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    gray, size = read_pixels(tmp_path / "c.png", (9, 7), 1)
    assert size == (7, 9) and gray.shape == (9, 7, 1)
    luma = np.round(rgb @ np.array([0.299, 0.587, 0.114]))
    assert np.abs(gray[..., 0].astype(int) - luma).max() <= 1
    colour, _ = read_pixels(tmp_path / "c.png", (9, 7), 3)
    np.testing.assert_array_equal(colour, rgb)
    Image.fromarray(gray[..., 0]).save(tmp_path / "g.png")
    back, _ = read_pixels(tmp_path / "g.png", (9, 7), 3)
    assert (back == gray).all()


def test_sixteen_bit_images_are_scaled_to_eight_bits(tmp_path):
    values = np.array([[0, 257, 65535, 32896]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    pixels, _ = read_pixels(tmp_path / "deep.png", (1, 4), 1)
    assert pixels[0, :, 0].tolist() == [0, 1, 255, 128]


def test_shrinking_is_antialiased(tmp_path):
    """A one-pixel bright line survives a 4x reduction as a dimmer line; a sampler
    without antialiasing would keep it whole or drop it."""
    image = np.zeros((64, 64), np.uint8)
    image[:, 33] = 255
    Image.fromarray(image).save(tmp_path / "line.png")
    pixels, _ = read_pixels(tmp_path / "line.png", 16, 1)
    column = pixels[:, 8, 0]
    assert 30 < column.min() and column.max() < 128


def test_arrays_and_files_take_the_same_path(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (3, 30, 45, 3), dtype=np.uint8)
    from_arrays = resize_pixels(images, (12, 20), 1)
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        pixels, _ = read_pixels(tmp_path / f"{i}.png", (12, 20), 1)
        np.testing.assert_array_equal(pixels, from_arrays[i])
    x = to_model_input(from_arrays)
    assert x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1


def test_unreadable_files_and_empty_folders_are_named(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageReadError, match="notes.png.*not a PNG"):
        read_pixels(tmp_path / "notes.png", 16, 1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="holds no image files"):
        image_files(tmp_path / "empty")
    with pytest.raises(ValueError, match="positive integer or \\(height, width\\)"):
        read_pixels(tmp_path / "notes.png", (16, 0), 1)


@pytest.mark.slow
def test_evaluate_predict_and_the_edge_runner_give_one_score_per_image(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = _odd_folder(tmp_path / "parts")
    run = str(tmp_path / "run")
    argv = ["train", "--folder", str(root), "--image-size", "16", "--width", "8",
            "--latent-size", "8", "--steps", "4", "--batch-size", "8", "--channels", "3",
            "--verbose", "0", "--formats", "keras", "saved_model", "tflite_float32",
            "--run-dir", run]
    assert main(argv) == 0
    # The parts keep their aspect ratio: the working size is the images' median
    # shape on the tile grid (2:3-ish here, 16-pixel tiles moving by 8).
    with open(os.path.join(run, "metrics.json")) as handle:
        height, width = json.load(handle)["data"]["working_size"]
    assert (height, width) != (16, 16) and height != width
    card = open(os.path.join(run, "export", "MODEL_CARD.md")).read()
    assert "class 0" not in card and "test/ defect folders as anomalies" in card
    assert main(["evaluate", run, "--split", "test", "--scores", "evaluated.csv",
                 "--batch-size", "3"]) == 0  # streamed in batches of 3
    assert main(["predict", run, str(root / "test"), "--out", "predicted.csv",
                 "--batch-size", "7"]) == 0
    edge = subprocess.run(
        [sys.executable, os.path.join(REPO, "export", "edge_inference.py"),
         os.path.join(run, "export", "model_float32.tflite"), str(root / "test"),
         "--out", "edge.csv"],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=REPO),
    )
    assert edge.returncode == 0, edge.stderr
    evaluated, predicted, on_device = (
        _rows(name) for name in ("evaluated.csv", "predicted.csv", "edge.csv")
    )
    assert len(predicted) == len(on_device) == 20 and 10 < len(evaluated) < 20
    assert {r["label"] for r in evaluated.values()} == {"0", "1"}
    tables = (evaluated, predicted, on_device)
    for path in evaluated:
        scores = [float(t[path]["anomaly_score"]) for t in tables]
        assert max(scores) - min(scores) <= 1e-3 * max(abs(s) for s in scores), path
        decisions = {int(t[path]["is_anomaly"]) for t in tables}
        near = abs(scores[0] - float(_threshold(run))) <= 1e-3 * abs(scores[0])
        assert len(decisions) == 1 or near, path

