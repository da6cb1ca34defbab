"""deploy/export.py: every format written with its metadata and card, every artefact
consistent with itself on every image and equal to Keras within its format, int8
keeping the AUROC, and exports refusing what would be wrong on a device."""


import json
import os

import numpy as np
import pytest

from ganomaly_keras import GANomaly
from ganomaly_keras.deploy.export import EXPORT_FORMATS, export_model
from ganomaly_keras.deploy.runtimes import (
    SavedModelRuntime,
    compare_runtimes,
    load_runtimes,
)
from ganomaly_keras.deploy.serving import to_uint8_images
from tests.settings import REPO


def _verify_export_module():
    """export/verify_export.py, which holds the project's export targets."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "verify_export", os.path.join(REPO, "export", "verify_export.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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

