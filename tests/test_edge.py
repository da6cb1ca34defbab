"""ganomaly_keras/edge.py, the TensorFlow-free edge runner: it scores files and folders
as the package does, and refuses what it cannot trust with the reason."""

import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from ganomaly_keras import GANomaly
from ganomaly_keras.cli.main import main
from ganomaly_keras.deploy.runtimes import (
    TFLiteRuntime,
)
from tests import helpers
from tests.settings import REPO

pytestmark = pytest.mark.usefixtures("chdir_tmp")


GOOD_METADATA = {
    "schema_version": 1,
    "input": {"name": "images", "dtype": "uint8", "image_size": 32, "channels": 1,
              "layout": "NHWC"},
    "threshold": 0.5,
    "scaling": {"score_min": 0.0, "score_max": 1.0},
    "artefacts": {},
}


@pytest.mark.slow
def test_edge_runner_scores_a_folder_without_tensorflow(exported, tmp_path):
    _, paths, out, images, labels = exported
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(images[i, ..., 0]).save(folder / f"{i}.png")
    # A larger image is resized to the model's 16x16 per the metadata.
    big = np.asarray(Image.fromarray(images[0, ..., 0]).resize((40, 40), Image.BILINEAR))
    Image.fromarray(big).save(folder / "big.png")
    result = helpers.run_edge(
        [paths["tflite_int8"], str(folder), "--out", str(tmp_path / "s.csv"), "--maps", str(tmp_path / "maps")],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert [os.path.basename(r["path"]) for r in rows] == ["0.png", "1.png", "2.png", "3.png", "4.png", "5.png", "big.png"]
    expected = TFLiteRuntime(paths["tflite_int8"]).run(images[:6])
    np.testing.assert_allclose([float(r["anomaly_score"]) for r in rows[:6]], expected["anomaly_score"], rtol=1e-6)
    assert [int(r["is_anomaly"]) for r in rows[:6]] == expected["is_anomaly"].tolist()
    assert Image.open(tmp_path / "maps" / "big_anomaly_map.png").size == (40, 40)


@pytest.mark.slow
def test_edge_runner_errors_name_the_problem(exported, tmp_path):
    _, paths, _, images, _ = exported
    (tmp_path / "notes.png").write_text("not an image")
    result = helpers.run_edge([paths["tflite_float32"], str(tmp_path / "notes.png")], tmp_path)
    assert result.returncode == 2 and "cannot read image" in result.stderr
    assert "notes.png" in result.stderr
    # One rule for channels everywhere: a colour image is converted to the model's
    # grayscale by ITU-R 601-2 luma, as training converts it.
    colour = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "colour.png")
    Image.fromarray(colour).convert("L").save(tmp_path / "gray.png")
    result = helpers.run_edge(
        [paths["tflite_float32"], str(tmp_path / "colour.png"), "--out", str(tmp_path / "c.json")],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    result = helpers.run_edge(
        [paths["tflite_float32"], str(tmp_path / "gray.png"), "--out", str(tmp_path / "g.json")],
        tmp_path,
    )
    colour_row, gray_row = (json.load(open(tmp_path / n))[0] for n in ("c.json", "g.json"))
    assert colour_row["path"].endswith("colour.png")
    assert colour_row["anomaly_score"] == gray_row["anomaly_score"]


@pytest.mark.parametrize("change,field", [
    ({"schema_version": 2}, "schema_version"),
    ({"input": {**GOOD_METADATA["input"], "image_size": 30}}, "input.image_size"),
    ({"input": {**GOOD_METADATA["input"], "image_size": "32"}}, "input.image_size"),
    ({"input": {**GOOD_METADATA["input"], "channels": 2}}, "input.channels"),
    ({"input": {**GOOD_METADATA["input"], "dtype": "float32"}}, "input.dtype"),
    ({"input": {**GOOD_METADATA["input"], "layout": "NCHW"}}, "input.layout"),
    ({"threshold": None}, "threshold"),
    ({"scaling": {"score_min": 0.0}}, "scaling"),
    ({"artefacts": []}, "artefacts"),
])
def test_the_edge_runner_refuses_bad_metadata_before_running(change, field, tmp_path, capsys):
    from ganomaly_keras import edge
    from ganomaly_keras.deploy.metadata import ExportMetadata, MetadataError

    ExportMetadata.from_dict(dict(GOOD_METADATA))
    with pytest.raises(MetadataError, match=field):
        ExportMetadata.from_dict({**GOOD_METADATA, **change})
    model = tmp_path / "model_float32.tflite"
    model.write_bytes(b"never read")
    (tmp_path / "metadata.json").write_text(json.dumps({**GOOD_METADATA, **change}))
    assert edge.main([str(model), str(tmp_path)]) == 2
    assert field in capsys.readouterr().err


@pytest.mark.slow
def test_predict_and_the_edge_runner_give_one_image_the_same_score(tmp_path):
    """A 50x70 RGB PNG, not model-sized: both resize it with the same loader."""

    from ganomaly_keras import export_model

    keras.utils.set_random_seed(0)
    model = GANomaly(image_size=16, channels=3, width=8, latent_size=8)
    calibration = np.random.default_rng(0).uniform(-1, 1, (16, 16, 16, 3)).astype("float32")
    model.calibrate(calibration)
    paths = export_model(model, tmp_path / "export", formats=("keras", "tflite_float32"))
    pixels = np.random.default_rng(1).integers(0, 256, (70, 50, 3), dtype=np.uint8)
    image = tmp_path / "part.png"
    Image.fromarray(pixels).save(image)
    assert main(["predict", paths["keras"], str(image), "--out", str(tmp_path / "p.csv")]) == 0
    predicted = next(csv.DictReader(open(tmp_path / "p.csv")))
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "export", "edge_inference.py"),
         paths["tflite_float32"], str(image), "--out", str(tmp_path / "e.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    edge = json.load(open(tmp_path / "e.json"))[0]
    assert float(predicted["anomaly_score"]) == pytest.approx(edge["anomaly_score"], rel=1e-4)
    assert float(predicted["normalized_score"]) == pytest.approx(edge["normalized_score"], abs=1e-5)
    assert int(predicted["is_anomaly"]) == edge["is_anomaly"]
    # A fresh process loads the .keras file through the top-level API alone.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, ganomaly_keras; "
         "print(type(ganomaly_keras.load_model(sys.argv[1])).__name__)", paths["keras"]],
        capture_output=True, text=True, timeout=120,
    )
    assert loaded.returncode == 0 and loaded.stdout.split() == ["GANomaly"], loaded.stderr[-500:]

