"""The package's seams: a TensorFlow-free import and edge module, the public API, the
options derived from the constructors, and one image loader for the training machine
and the device."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from settings import REPO

import ganomaly_keras
from ganomaly_keras.cli.main import main
from ganomaly_keras.cli.parser import build_parser
from ganomaly_keras.models.base import constructor_parameters
from ganomaly_keras.models.registry import (
    DETECTORS,
    SET_BY_RUN,
    all_options,
    model_options,
)


def _fresh_python(code):
    """Run `code` in a new interpreter without the TF_/KERAS variables; it must pass."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS"))}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env=environment, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_importing_the_package_loads_no_tensorflow_and_sets_no_variable():
    code = (
        "import os, sys, json\n"
        "before = dict(os.environ)\n"
        "import ganomaly_keras, ganomaly_keras.edge, ganomaly_keras.deploy.metadata\n"
        "ganomaly_keras.__version__, ganomaly_keras.EdgeDetector\n"
        "print(json.dumps({'tf': [m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras')], 'changed': sorted(set(os.environ.items()) ^ "
        "set(before.items()))}))\n"
    )
    result = _fresh_python(code)
    assert json.loads(result.stdout) == {"tf": [], "changed": []}


def test_the_public_api_is_at_the_top_level():
    for name in ganomaly_keras.__all__:
        assert getattr(ganomaly_keras, name) is not None, name
    from ganomaly_keras.deploy.export import export_model
    from ganomaly_keras.training.callbacks import AUROCCallback

    assert ganomaly_keras.AUROCCallback is AUROCCallback
    assert ganomaly_keras.export_model is export_model
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        ganomaly_keras.Nope  # noqa: B018


def test_every_constructor_option_is_a_train_flag_with_its_default_type():
    parser = build_parser()
    train = next(
        action.choices["train"] for action in parser._actions if getattr(action, "choices", None)
        and "train" in action.choices
    )
    flags = {a.dest: a for a in train._actions}
    for name, cls in DETECTORS.items():
        parameters = constructor_parameters(cls)
        assert set(model_options(name)) == set(parameters) - set(SET_BY_RUN)
        for option in model_options(name):
            assert option in flags, (name, option)
            assert flags[option].help, option  # documented in the constructor's Args
    assert set(all_options()["encoder_weight"][2]) == {"ganomaly"}
    args = parser.parse_args(["train", "--critic-steps", "3", "--model", "simultaneous_encoder_gan"])
    assert args.critic_steps == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--critic-steps", "0"])


def test_a_flag_for_another_detector_is_refused_by_name(capsys, tmp_path):
    assert main(["train", "--model", "egbad", "--encoder-weight", "2",
                 "--run-dir", str(tmp_path / "r")]) == 2
    assert "--encoder-weight does not apply to --model egbad" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_predict_and_the_edge_runner_give_one_image_the_same_score(tmp_path):
    """A 50x70 RGB PNG, not model-sized: both resize it with the same loader."""
    import keras

    from ganomaly_keras import GANomaly, export_model

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


def test_metadata_round_trips_and_reads_back_from_a_folder(tmp_path):
    from ganomaly_keras.deploy.metadata import ExportMetadata, read_metadata

    written = ExportMetadata(
        model_class="GANomaly", model_config={"latent_size": 8}, image_size=32, channels=3,
        score_name="latent_mse", score_definition="d", map_smoothing=3, score_min=0.1,
        score_max=0.9, threshold=0.5, outputs={"anomaly_score": "raw"},
        artefacts={"tflite_float32": {"file": "model_float32.tflite", "bytes": 1}},
    )
    written.write(tmp_path)
    read = read_metadata(tmp_path)
    assert read == written
    assert read.artefact("x/model_float32.tflite") == {"file": "model_float32.tflite", "bytes": 1}
    assert read.color == "rgb"


def test_the_model_card_is_prose_with_the_models_own_options():
    from ganomaly_keras.deploy.metadata import ExportMetadata
    from ganomaly_keras.deploy.model_card import model_card

    card = model_card(ExportMetadata(
        model_class="EGBAD", model_config={"joint_units": 512, "latent_size": 100},
        image_size=32, channels=1, score_name="paper", score_definition="0.9 * (a) + 0.1 * (b)",
        map_smoothing=3, score_min=0.0, score_max=1.0, threshold=0.4, outputs={},
        training_data={"source": "digits", "abnormal_class": 0,
                       "splits": {"train": {"images": 900, "anomalous": 0}}},
        artefacts={},
    ))
    assert "EGBAD with joint units 512, latent size 100." in card
    assert "is 0.9 * (a) + 0.1 * (b)" in card
    assert "class 0 as the anomaly" in card and "train 900 images" in card
    assert "contextual" not in card and "{" not in card


def test_tensorflow_prints_no_start_up_banner_but_keeps_other_stderr():
    code = (
        "import sys\n"
        "from ganomaly_keras import configure_tensorflow\n"
        "configure_tensorflow()\n"
        "import keras, numpy as np\n"
        "keras.layers.Conv2D(2, 3)(np.zeros((1, 8, 8, 1), 'float32'))\n"
        "print('after', file=sys.stderr)\n"
    )
    result = _fresh_python(code)
    assert "oneDNN" not in result.stderr and "absl::InitializeLog" not in result.stderr
    assert "after" in result.stderr


def test_banner_filter_drops_only_tensorflow_info_records():
    from ganomaly_keras.backend import strip_tensorflow_banners

    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796243770.466044    2344 port.cc:153] oneDNN custom operations are on.\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild "
        "TensorFlow with the appropriate compiler flags.\n"
        "E0000 00:00:1796243770.466044    2344 cuda.cc:1] a real error\n"
        "UserWarning: something\n"
    )
    assert strip_tensorflow_banners(text) == (
        "E0000 00:00:1796243770.466044    2344 cuda.cc:1] a real error\nUserWarning: something\n"
    )


def test_every_name_the_examples_import_from_the_package_exists():
    """The examples are not run by the suite; a name they import that the package no
    longer has would only show when a user runs them."""
    import ast
    import importlib

    folder = os.path.join(REPO, "examples")
    checked = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(folder, name)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "ganomaly_keras"
            ):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), (
                        f"examples/{name} imports {alias.name} from {node.module}, "
                        "which does not define it"
                    )
                    checked += 1
    assert checked >= 10
