"""Turning raw anomaly scores into a 0..1 score and a decision.

Both are fitted on validation data, never on the test split, and stored with the model
(`GANomaly.calibrate`), so that saved and exported models carry them.

- Scaling: min-max over the validation scores, clipped to [0, 1]. It changes no AUROC.
- Threshold, raw-score units, an image is anomalous when its score is above it:
  - from normal images only: the `1 - contamination` quantile of their scores, so
    about a fraction `contamination` of normal images is flagged;
  - from labelled images (1 = anomaly): the threshold that maximises F1, in the
    middle of the gap between the lowest flagged validation score and the next
    lower one.

All three values are float32, the precision the model stores and applies them in.
"""

from typing import NamedTuple

import numpy as np
from sklearn.metrics import precision_recall_curve


class Calibration(NamedTuple):
    """Score scaling and decision threshold, in raw-score units."""

    score_min: float
    score_max: float
    threshold: float


def _check_scores(scores):
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise ValueError("calibration needs at least one validation score; got none.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("validation scores contain NaN or infinite values.")
    return scores


def threshold_from_normal(scores, contamination=0.01):
    """The `1 - contamination` quantile of scores of normal images (float32)."""
    scores = _check_scores(scores)
    if not 0 <= contamination < 1:
        raise ValueError(f"contamination must be in [0, 1); got {contamination}.")
    return float(np.float32(np.quantile(scores, 1.0 - contamination)))


def threshold_max_f1(scores, labels):
    """The threshold on labelled scores (1 = anomaly) with the highest F1."""
    scores = _check_scores(scores)
    labels = np.asarray(labels).ravel()
    if labels.shape != scores.shape:
        raise ValueError(
            f"labels and scores differ in length: {labels.size} vs {scores.size}."
        )
    if set(np.unique(labels).tolist()) != {0, 1}:
        raise ValueError(
            "F1-optimal thresholds need both normal (0) and anomalous (1) images; "
            f"got labels {sorted(set(labels.tolist()))}. Use contamination= with "
            "normal images only instead."
        )
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1]))
    # precision_recall_curve flags scores >= thresholds[best]; ours flags scores
    # above the threshold, so it goes into the gap below that score: at its middle,
    # where a score that moves a little (another runtime, a quantised file) is least
    # likely to cross it.
    return gap_midpoint(scores, thresholds[best])


def gap_midpoint(scores, lowest_flagged):
    """A float32 threshold strictly between `lowest_flagged` and the next lower score
    (the middle of their gap), so that exactly the scores >= `lowest_flagged` are
    above it, in the float32 arithmetic every artefact decides in."""
    lowest_flagged = np.float32(lowest_flagged)
    below = np.float32(np.nextafter(lowest_flagged, np.float32(-np.inf)))
    lower = scores[scores.astype(np.float32) < lowest_flagged]
    if lower.size:
        middle = np.float32((float(lower.max()) + float(lowest_flagged)) / 2)
        if np.float32(lower.max()) < middle < lowest_flagged:
            return float(middle)
    return float(below)


def fit_calibration(scores, labels=None, contamination=0.01):
    """Scaling from all `scores`; threshold from labels if given, else contamination."""
    scores = _check_scores(scores)
    if labels is None:
        threshold = threshold_from_normal(scores, contamination)
    else:
        threshold = threshold_max_f1(scores, labels)
    # Stored as float32 model weights: fitted in the precision they are used in.
    return Calibration(
        float(np.float32(scores.min())), float(np.float32(scores.max())),
        float(np.float32(threshold)),
    )
