"""models/defect_training.py: restoration from synthetic defects, an SSIM term and a
segmentation head, on GANomaly and skip-GANomaly; the head's terms and their export."""

import numpy as np
import pytest

from ganomaly_keras import GANomaly, SkipGANomaly
from ganomaly_keras.deploy.export import export_model
from ganomaly_keras.deploy.runtimes import TFLiteRuntime
from ganomaly_keras.deploy.serving import preprocess, to_uint8_images
from ganomaly_keras.scoring import terms as scoring_terms
from tests.settings import TINY_MODEL


def _trained(cls, rng, **options):
    model = cls(**TINY_MODEL, seed=0, synthetic_defects=True, segmentation_head=True,
                ssim_weight=1.0, **options)
    model.compile(jit_compile=False)
    x = rng.uniform(-0.5, 0.5, (32, 16, 16, 1)).astype("float32")
    history = model.fit(x, epochs=2, batch_size=16, verbose=0).history
    return model, x, history


@pytest.mark.parametrize("cls", [GANomaly, SkipGANomaly])
def test_training_on_defects_logs_its_losses_and_trains_the_head(cls, rng):
    model, x, history = _trained(cls, rng)
    assert {"g_ssim", "seg_loss"} <= set(history)
    assert all(np.isfinite(v).all() for v in history.values())
    assert set(scoring_terms.SEGMENTATION_TERMS) <= set(model.available_scores)
    # The head is the generator optimizer's too, and its weights moved.
    head = {id(v) for v in model.segmentation.trainable_variables}
    assert head <= {id(v) for v in model.generator_variables}
    restored = cls.from_config(model.get_config())
    assert restored.segmentation is not None and restored.synthetic_defects


def test_a_model_without_the_options_has_no_head_and_no_extra_losses():
    model = GANomaly(**TINY_MODEL)
    assert model.segmentation is None and model.defect_loss_names() == ()
    assert not set(scoring_terms.SEGMENTATION_TERMS) & set(model.available_scores)


def test_the_head_terms_are_reductions_of_its_map(rng):
    model, x, _ = _trained(GANomaly, rng)
    head = model.with_score("segmentation_max")
    scores, maps = head.predict_outputs(x[:6])
    np.testing.assert_allclose(scores, maps.reshape(6, -1).max(axis=1), rtol=1e-6)
    top = model.with_score("segmentation_topk")
    top_scores, top_maps = top.predict_outputs(x[:6])
    count = max(1, round(16 * 16 * scoring_terms.TOP_FRACTION))
    expected = np.sort(top_maps.reshape(6, -1), axis=1)[:, -count:].mean(axis=1)
    np.testing.assert_allclose(top_scores, expected, rtol=1e-5)
    assert (maps >= 0).all() and (maps <= 1).all()  # probabilities, smoothed


@pytest.mark.slow
def test_the_head_exports_to_litert_and_computes_what_keras_computes(rng, tmp_path):
    model, x, _ = _trained(GANomaly, rng)
    model = model.with_score("segmentation_max")
    model.calibrate(x)
    paths = export_model(model, tmp_path / "e", formats=("tflite_float32", "tflite_int8"),
                         representative_data=x)
    pixels = to_uint8_images(x[:8])
    expected = model.calibrated_outputs(preprocess(pixels).numpy())
    outputs = TFLiteRuntime(paths["tflite_float32"]).run(pixels)
    np.testing.assert_allclose(outputs["anomaly_score"], expected["anomaly_score"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(outputs["anomaly_map"], expected_map(model, pixels), atol=1e-4)
    int8 = TFLiteRuntime(paths["tflite_int8"]).run(pixels)
    threshold = np.float32(model.calibration.threshold)
    np.testing.assert_array_equal(int8["is_anomaly"], (int8["anomaly_score"] > threshold).astype(int))


def expected_map(model, pixels):
    return model.predict_maps(preprocess(pixels).numpy())
