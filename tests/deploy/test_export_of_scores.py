"""Exports of map-based scores and of tiled models compute what Keras computes; int8
calibration images include copies with a synthetic defect."""

import json

import numpy as np
import pytest

from ganomaly_keras import GANomaly
from ganomaly_keras.deploy.export import export_model
from ganomaly_keras.deploy.runtimes import SavedModelRuntime, TFLiteRuntime
from ganomaly_keras.deploy.serving import to_uint8_images
from tests.settings import TINY


# residual_topk exercises TOPK_V2; the tiled export below, with standardized_sum, the
# tiling, the feature maps (bilinear resize), residual_max and the stored statistics.
@pytest.mark.parametrize("score", ["residual_topk"])
def test_export_of_a_map_score_matches_keras(score, rng, tmp_path):
    x = rng.uniform(-1, 1, (12, 16, 16, 1)).astype("float32")
    model = GANomaly(image_size=16, channels=1, score=score, seed=0, **TINY)
    model.fit_normal_statistics(x[:6])
    model.calibrate(x[:6])
    paths = export_model(model, tmp_path / "export", formats=("saved_model", "tflite_float32"))
    with open(paths["metadata"]) as handle:
        assert json.load(handle)["score"]["name"] == score
    pixels = to_uint8_images(x)
    expected = model.predict(pixels.astype("float32") / 127.5 - 1, verbose=0)
    maps = model.predict_maps(pixels.astype("float32") / 127.5 - 1)
    for runtime in (SavedModelRuntime(paths["saved_model"]), TFLiteRuntime(paths["tflite_float32"])):
        outputs = runtime.run(pixels)
        np.testing.assert_allclose(outputs["anomaly_score"], expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(outputs["anomaly_map"], maps, rtol=1e-4, atol=1e-5)


def test_export_of_a_tiled_model_matches_keras(rng, tmp_path):
    x = rng.uniform(-1, 1, (6, 32, 32, 1)).astype("float32")
    model = GANomaly(image_size=16, channels=1, working_size=32, score="standardized_sum",
                     seed=0, **TINY)
    model.fit_normal_statistics(x[:3])
    model.calibrate(x)
    paths = export_model(model, tmp_path / "export", formats=("tflite_float32",))
    pixels = to_uint8_images(x)
    expected = model.predict(pixels.astype("float32") / 127.5 - 1, verbose=0)
    maps = model.predict_maps(pixels.astype("float32") / 127.5 - 1)
    outputs = TFLiteRuntime(paths["tflite_float32"]).run(pixels)
    np.testing.assert_allclose(outputs["anomaly_score"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs["anomaly_map"], maps, rtol=1e-4, atol=1e-5)
    assert outputs["anomaly_map"].shape == (6, 32, 32)


def test_int8_calibration_images_include_copies_with_a_synthetic_defect():
    from ganomaly_keras.deploy.export import (
        _representative_images,
        with_synthetic_defects,
    )

    normal = np.full((10, 32, 32, 3), 120, np.uint8)
    copies = with_synthetic_defects(normal)
    assert copies.shape == normal.shape and copies.dtype == np.uint8
    changed = (copies != normal).any(axis=-1)
    for mask in changed:  # one rectangle per image, at least 3x3 at 32 px
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert mask.sum() == len(rows) * len(cols) >= 9
    representative = _representative_images(normal, (32, 32, 3))
    assert len(representative) == 20 and (representative[:10] == normal).all()

