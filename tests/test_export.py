"""Export: every format reloaded and compared with Keras; the TensorFlow-free runner."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from settings import REPO

from ganomaly_keras import GANomaly
from ganomaly_keras.deploy.export import EXPORT_FORMATS, export_model
from ganomaly_keras.deploy.runtimes import (
    SavedModelRuntime,
    TFLiteRuntime,
    compare_runtimes,
    load_runtimes,
)
from ganomaly_keras.deploy.serving import to_uint8_images
from ganomaly_keras.deploy.writers import (
    conversion_groups,
    convert_in_subprocess,
    converter_error_summary,
)

EDGE_RUNNER = os.path.join(REPO, "export", "edge_inference.py")


def _verify_export_module():
    """export/verify_export.py, which holds the project's export targets."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "verify_export", os.path.join(REPO, "export", "verify_export.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def exported(trained_digits_state, tmp_path_factory):
    """The digits model calibrated on validation and exported in every format."""
    from conftest import model_from_state

    model, splits = model_from_state(trained_digits_state), trained_digits_state[2]
    model.compile(jit_compile=False)  # as a run's model: with both optimizers' state
    val = splits["validation"]
    model.calibrate(val.images, val.labels)
    out = tmp_path_factory.mktemp("export") / "digits"
    paths = export_model(
        model,
        out,
        representative_data=splits["train"].images,
        training_data={"source": "digits", "abnormal_class": 0, "seed": 0},
        validation={"auroc": 0.9},
    )
    test = splits["test"]
    return model, paths, str(out), to_uint8_images(test.images), test.labels


def test_export_writes_every_format_with_metadata_and_card(exported):
    model, paths, out, _, _ = exported
    for name in EXPORT_FORMATS + ("metadata", "model_card"):
        assert os.path.exists(paths[name]), name
    with open(paths["metadata"]) as handle:
        metadata = json.load(handle)
    assert metadata["schema_version"] == 1
    assert metadata["input"] == {
        **metadata["input"],
        "dtype": "uint8",
        "image_size": 16,
        "channels": 1,
        "range": [0, 255],
    }
    assert metadata["threshold"] == pytest.approx(model.calibration.threshold)
    assert metadata["scaling"]["score_max"] == pytest.approx(model.calibration.score_max)
    assert metadata["training_data"]["abnormal_class"] == 0
    assert metadata["validation"]["auroc"] == 0.9
    assert metadata["artefacts"]["tflite_int8"]["batch"] == 1
    assert "threshold" in open(paths["model_card"]).read()
    # The exported Keras model is for inference: weights, calibration and
    # statistics, no optimizer state (which would double its size again).
    from ganomaly_keras.saving import load_model

    loaded = load_model(paths["keras"])
    assert not loaded.compiled and getattr(loaded, "optimizer", None) is None
    assert loaded.calibration == model.calibration
    weight_bytes = sum(w.size * w.itemsize for w in model.get_weights())
    assert os.path.getsize(paths["keras"]) < 1.2 * weight_bytes + 100_000
    assert not [n for n in os.listdir(os.path.dirname(out)) if ".tmp-" in n]


def assert_consistent_with_itself(outputs, fitted, name):
    """Every artefact's decision follows its own score, exactly, and its 0..1 score is
    the stated scaling of its own score (float32 arithmetic: a few ulps)."""
    scores = outputs["anomaly_score"]
    assert scores.dtype == np.float32, name
    np.testing.assert_array_equal(
        outputs["is_anomaly"], (scores > np.float32(fitted.threshold)).astype(int), err_msg=name
    )
    span = np.float32(fitted.score_max) - np.float32(fitted.score_min)
    expected = np.clip((scores - np.float32(fitted.score_min)) / span, 0, 1)
    np.testing.assert_allclose(
        outputs["normalized_score"], expected, rtol=4 * np.finfo(np.float32).eps,
        atol=4 * np.finfo(np.float32).eps, err_msg=name,
    )


def test_every_artefact_matches_keras(exported, digits16):
    model, paths, out, images, labels = exported
    all_images = to_uint8_images(digits16[0])
    keras_scores = model.predict(images.astype("float32") / 127.5 - 1, verbose=0)
    runtimes = load_runtimes(out)
    assert [r.name for r in runtimes] == [
        "keras", "saved_model", "tflite_float32", "tflite_float16",
        "tflite_dynamic", "tflite_int8",
    ]
    outputs = {r.name: r.run(images[:40]) for r in runtimes}
    fitted = model.calibration
    for name, out_ in outputs.items():
        assert out_["anomaly_score"].shape == (40,)
        assert out_["anomaly_map"].shape == (40, 16, 16)
    for runtime in runtimes:  # every image of the data set, in every artefact
        assert_consistent_with_itself(runtime.run(all_images), fitted, runtime.name)
    for name in ("keras", "saved_model", "tflite_float32"):
        np.testing.assert_allclose(
            outputs[name]["anomaly_score"], keras_scores[:40], rtol=1e-4, atol=1e-7
        )
    np.testing.assert_allclose(
        outputs["tflite_float16"]["anomaly_score"], keras_scores[:40], rtol=2e-2
    )
    # The map is |x - G(x)| averaged over channels.
    x = images[:40].astype("float32") / 127.5 - 1
    expected_map = np.abs(x - model.reconstruct(x)).mean(-1)
    np.testing.assert_allclose(outputs["tflite_float32"]["anomaly_map"], expected_map, atol=1e-4)


def test_int8_keeps_the_auroc_on_real_digits(exported):
    _, _, out, images, labels = exported
    runtimes = [r for r in load_runtimes(out) if r.name in ("keras", "tflite_float32", "tflite_int8")]
    rows = compare_runtimes(runtimes, images, labels, latency_repeats=3)
    by_name = {r["name"]: r for r in rows}
    assert by_name["keras"]["auroc"] > 0.85
    assert by_name["tflite_float32"]["max_rel_diff"] <= 1e-4
    assert by_name["keras"]["auroc"] - by_name["tflite_int8"]["auroc"] <= 0.01
    assert by_name["tflite_float32"]["bytes"] / by_name["tflite_int8"]["bytes"] > 3.0
    check_targets = _verify_export_module().check_targets
    checks = {name: (value, passed) for name, value, passed in check_targets(rows)}
    value, passed = checks["float32 TFLite scores = Keras within 1e-4 relative"]
    assert value == by_name["tflite_float32"]["max_rel_diff"] and passed
    value, passed = checks["int8 AUROC within 0.005 of Keras"]
    assert value == pytest.approx(by_name["keras"]["auroc"] - by_name["tflite_int8"]["auroc"])
    assert passed == (value <= 0.005)


def test_export_refuses_what_would_be_wrong_on_a_device(tmp_path):
    model = GANomaly(image_size=16, channels=1, width=8, latent_size=8)
    with pytest.raises(ValueError, match="calibrate"):
        export_model(model, tmp_path / "x")
    model.calibrate(np.zeros((4, 16, 16, 1), "float32"))
    with pytest.raises(ValueError, match="representative_data"):
        export_model(model, tmp_path / "x")
    with pytest.raises(ValueError, match="formats"):
        export_model(model, tmp_path / "x", formats=("onnx",))
    with pytest.raises(ValueError, match=r"shape \(n,\) \+ \(16, 16, 1\)"):
        export_model(model, tmp_path / "x", representative_data=np.zeros((2, 8, 8, 1), "float32"))
    assert not os.path.exists(tmp_path / "x")


def test_reexport_replaces_the_folder_and_keeps_only_asked_formats(trained_digits, tmp_path):
    model, splits = trained_digits
    model.calibrate(splits["validation"].images, splits["validation"].labels)
    out = tmp_path / "e"
    export_model(model, out, formats=("keras",))
    (out / "stale.txt").write_text("from an earlier export")
    paths = export_model(model, out, formats=("saved_model", "tflite_float32"))
    assert sorted(os.listdir(out)) == [
        "MODEL_CARD.md", "metadata.json", "model_float32.tflite", "saved_model",
    ]
    assert set(paths) == {"saved_model", "tflite_float32", "metadata", "model_card"}
    assert SavedModelRuntime(paths["saved_model"]).run(np.zeros((3, 16, 16, 1), np.uint8))[
        "anomaly_score"
    ].shape == (3,)


# ------------------------------------------------------------------- edge runner


def _run_edge(args, cwd):
    """The edge runner in a fresh interpreter where TensorFlow and Keras cannot load
    (it imports only the TensorFlow-free `ganomaly_keras.edge`)."""
    code = (
        "import sys, runpy\n"
        "for name in ('tensorflow', 'keras', 'tf_keras'):\n"
        "    sys.modules[name] = None  # any import of them raises ImportError\n"
        f"sys.argv = {['edge_inference.py'] + args!r}\n"
        "try:\n"
        f"    runpy.run_path({EDGE_RUNNER!r}, run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras') and sys.modules[m] is not None]\n"
        "    assert not loaded, loaded\n"
        "    raise\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )


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
    result = _run_edge(
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
    result = _run_edge([paths["tflite_float32"], str(tmp_path / "notes.png")], tmp_path)
    assert result.returncode == 2 and "cannot read image" in result.stderr
    assert "notes.png" in result.stderr
    # One rule for channels everywhere: a colour image is converted to the model's
    # grayscale by ITU-R 601-2 luma, as training converts it.
    colour = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "colour.png")
    Image.fromarray(colour).convert("L").save(tmp_path / "gray.png")
    result = _run_edge(
        [paths["tflite_float32"], str(tmp_path / "colour.png"), "--out", str(tmp_path / "c.json")],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    result = _run_edge(
        [paths["tflite_float32"], str(tmp_path / "gray.png"), "--out", str(tmp_path / "g.json")],
        tmp_path,
    )
    colour_row, gray_row = (json.load(open(tmp_path / n))[0] for n in ("c.json", "g.json"))
    assert colour_row["path"].endswith("colour.png")
    assert colour_row["anomaly_score"] == gray_row["anomaly_score"]


@pytest.mark.slow
def test_an_int8_file_that_crashes_xnnpack_is_marked_and_still_runs(tmp_path):
    """ai-edge-litert 2.3.0's XNNPACK aborts on the int8 model of a width-16 GANomaly
    at 32x32. Export runs each file once in a child process and records the kernels
    that work; the runners follow the record instead of crashing."""
    import keras

    keras.utils.set_random_seed(0)
    model = GANomaly(image_size=32, channels=1, width=16)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 32, 32, 1)).astype("float32")
    model.calibrate(x)
    paths = export_model(model, tmp_path / "e", formats=("tflite_int8", "tflite_float32"), representative_data=x)
    metadata = json.load(open(paths["metadata"]))
    delegates = {k: a["litert_delegate"] for k, a in metadata["artefacts"].items()}
    assert set(delegates.values()) <= {"default", "none"}
    assert delegates["tflite_float32"] == "default"
    pixels = to_uint8_images(x[:3])
    runtime = TFLiteRuntime(paths["tflite_int8"])
    assert runtime.delegate == delegates["tflite_int8"]
    scores = runtime.run(pixels)["anomaly_score"]
    assert np.all(np.isfinite(scores))
    Image.fromarray(pixels[0, ..., 0]).save(tmp_path / "a.png")
    result = _run_edge([paths["tflite_int8"], str(tmp_path / "a.png")], tmp_path)
    assert result.returncode == 0, result.stderr


def test_converter_failures_are_summarised_in_one_line():
    stderr = (
        "W0000 some warning\n"
        "<unknown>:0: error: loc(callsite(fused[...])): 'tf.ReluGrad' op is neither a custom op nor a flex op\n"
        "<unknown>:0: note: see current operation\n"
        "<unknown>:0: error: loc(fused[...]): 'tf.LeakyReluGrad' op is neither a custom op nor a flex op\n"
        "<unknown>:0: error: loc(fused[...]): 'tf.ReluGrad' op is neither a custom op nor a flex op\n"
        "}) {tf.entry_function = {control_outputs = \"\"}} : () -> ()\n"
    )
    assert converter_error_summary(stderr) == (
        "TensorFlow ops with no LiteRT builtin kernel: tf.LeakyReluGrad, tf.ReluGrad"
    )
    other = "loading\nRuntimeError: Quantization not yet supported for op: 'WHILE'\n}) : () -> ()\n"
    assert converter_error_summary(other) == "RuntimeError: Quantization not yet supported for op: 'WHILE'"
    assert converter_error_summary("") == "no output"


def test_conversions_are_split_across_concurrent_children_by_cost():
    groups = conversion_groups(["float32", "float16", "dynamic", "int8"], workers=2)
    assert sorted(v for g in groups for v in g) == ["dynamic", "float16", "float32", "int8"]
    assert groups == [["int8", "float16"], ["float32", "dynamic"]]  # 6.6 against 5.0
    assert conversion_groups(["int8"], workers=8) == [["int8"]]
    assert len(conversion_groups(["float32", "int8"], workers=1)) == 1


def test_a_failed_conversion_child_is_reported_with_what_is_missing(tmp_path):
    with pytest.raises(RuntimeError, match=r"variants not written: \['float32', 'float16'\]"):
        convert_in_subprocess(str(tmp_path / "no_saved_model"), ["float32", "float16"], str(tmp_path))


def test_a_head_left_in_float16_is_refused(exported):
    """The float16 pass alone stores the threshold in float16: the check that guards
    every written file catches it (and the export mends it: see above)."""
    import tensorflow as tf

    from ganomaly_keras.deploy import float_head, writers

    _, paths, _, _, _ = exported
    converter = writers._converter(paths["saved_model"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    with pytest.raises(RuntimeError, match="reduced precision"):
        float_head.check_float_head(converter.convert())
