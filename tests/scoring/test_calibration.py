"""scoring/calibration.py and scoring/decisions.py: thresholds and scaling fitted on
validation, stored, saved, and required before decisions."""

import keras
import numpy as np
import pytest

from ganomaly_keras import GANomaly
from ganomaly_keras.scoring.calibration import (
    fit_calibration,
    threshold_from_normal,
    threshold_max_f1,
)


def test_threshold_from_normal_flags_the_contamination_fraction(rng):
    scores = rng.normal(size=10_000)
    threshold = threshold_from_normal(scores, contamination=0.05)
    assert np.mean(scores > threshold) == pytest.approx(0.05, abs=0.002)
    with pytest.raises(ValueError, match="contamination"):
        threshold_from_normal(scores, 1.5)
    with pytest.raises(ValueError, match="NaN"):
        threshold_from_normal([0.1, np.nan])
    with pytest.raises(ValueError, match="at least one"):
        threshold_from_normal([])


def test_f1_threshold_separates_separable_scores():
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    labels = np.array([0, 0, 0, 1, 1])
    threshold = threshold_max_f1(scores, labels)
    np.testing.assert_array_equal(scores > threshold, labels.astype(bool))
    with pytest.raises(ValueError, match="both normal"):
        threshold_max_f1(scores, np.zeros(5))
    fitted = fit_calibration(scores, labels)
    # float32, the precision the model stores them in
    assert (fitted.score_min, fitted.score_max) == (float(np.float32(0.1)), float(np.float32(0.9)))


def test_calibration_is_stored_and_saved(trained_digits, tmp_path):
    model, splits = trained_digits
    val = splits["validation"]
    fitted = model.calibrate(val.images, val.labels)
    assert model.calibration == pytest.approx(fitted)
    decisions = model.predict_anomaly(val.images)
    scores = model.predict(val.images, verbose=0)
    np.testing.assert_array_equal(decisions, (scores > fitted.threshold).astype(int))
    normalized = model.normalized_score(val.images)
    assert normalized.min() == pytest.approx(0.0, abs=1e-6)
    assert normalized.max() == pytest.approx(1.0, abs=1e-6)

    path = str(tmp_path / "calibrated.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.calibration == pytest.approx(fitted)
    np.testing.assert_array_equal(loaded.predict_anomaly(val.images), decisions)


def test_uncalibrated_model_refuses_decisions():
    model = GANomaly(image_size=16, channels=1, width=8, latent_size=8)
    assert model.calibration is None
    with pytest.raises(ValueError, match="calibrate"):
        model.predict_anomaly(np.zeros((1, 16, 16, 1), "float32"))


def test_the_f1_threshold_flags_its_lowest_score_in_float32():
    """Stored as a float32 weight, a threshold one float64 ulp below a float32 score
    equals that score, and the score is no longer above it; the threshold sits in
    the middle of the gap instead, strictly between two float32 scores."""
    scores = np.array([0.1, 0.2, 0.624396562576294, 0.7], np.float32).astype(np.float64)
    labels = np.array([0, 0, 1, 1])
    threshold = np.float32(threshold_max_f1(scores, labels))
    assert np.float32(0.2) < threshold < np.float32(scores[2])
    assert threshold == np.float32((0.2 + scores[2]) / 2)
    # Adjacent float32 scores: the threshold is the lower one, still flagging the upper.
    upper = np.float32(0.5)
    lower = np.nextafter(upper, np.float32(0))
    threshold = np.float32(threshold_max_f1(np.array([lower, upper], np.float64), [0, 1]))
    assert lower <= threshold < upper and not lower > threshold

