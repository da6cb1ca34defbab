"""metrics/evaluation.py: image-level AUROC, AUPR and F1 of a detector."""


import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from ganomaly_keras.metrics.evaluation import evaluate_detector


def test_evaluate_detector(trained_digits):
    model, splits = trained_digits
    val, test = splits["validation"], splits["test"]
    model.calibrate(val.images, val.labels)
    result = evaluate_detector(model, test.images, test.labels)
    assert result["n_anomalous"] == int(test.labels.sum())
    assert result["scores"].shape == (len(test.labels),)
    scores = model.predict(test.images, verbose=0)
    assert result["auroc"] == pytest.approx(roc_auc_score(test.labels, scores))
    assert result["aupr"] == pytest.approx(average_precision_score(test.labels, scores))
    flagged = scores > model.calibration.threshold
    expected = precision_recall_fscore_support(test.labels, flagged, average="binary", zero_division=0)
    assert (result["precision"], result["recall"], result["f1"]) == pytest.approx(expected[:3])
    assert result["auroc"] > 0.8, result["auroc"]
    with pytest.raises(ValueError, match="both normal"):
        evaluate_detector(model, test.images[:5], np.zeros(5))

