"""Evaluating a detector on a labelled split (1 = anomaly, 0 = normal).

AUROC and average precision come from scikit-learn (exact and rank based, as unbounded
scores need; `keras.metrics.AUC` assumes probabilities). Precision, recall and F1 are
reported at the model's stored threshold when it has one, with the decisions of the
calibration head the exported models use (`ganomaly_keras.deploy.serving`). With ground-truth masks, the
anomaly maps are also scored per pixel (pixel AUROC and AUPRO, see
`ganomaly_keras.metrics.pixel`).
"""

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from ganomaly_keras.deploy.serving import calibrated_numpy
from ganomaly_keras.metrics.pixel import pixel_metrics, resize_maps


def check_labels(labels, n):
    labels = np.asarray(labels).ravel()
    if labels.size != n:
        raise ValueError(f"got {labels.size} labels for {n} images.")
    values = set(np.unique(labels).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"labels must be 0 (normal) or 1 (anomaly); got {sorted(values)}.")
    if values != {0, 1}:
        raise ValueError(
            "AUROC needs both normal (0) and anomalous (1) images in the evaluation "
            f"data; got only label {values.pop()}."
        )
    return labels.astype(np.int64)


def ranking_metrics(scores, labels):
    """`{"auroc", "aupr"}` of raw scores against labels."""
    labels = check_labels(labels, len(scores))
    return {
        "auroc": float(roc_auc_score(labels, scores)),
        "aupr": float(average_precision_score(labels, scores)),
    }


def pixel_evaluation(model, images, masks, batch_size=256):
    """`{"pixel_auroc", "aupro"}` of the model's anomaly maps of `images` against
    binary `masks` `(n, H, W)`; the maps are upsampled bilinearly to `H x W`."""
    masks = np.asarray(masks)
    if masks.ndim != 3 or len(masks) != len(images):
        raise ValueError(
            f"masks must have shape (n, height, width) with n = {len(images)} "
            f"images; got {masks.shape}."
        )
    maps = resize_maps(model.predict_maps(images, batch_size), masks.shape[1:])
    return pixel_metrics(maps, masks)


def evaluate_detector(model, images, labels, masks=None, batch_size=256):
    """Score `images` with `model` and compare with `labels` (and `masks`).

    Args:
        model: a detector of this package.
        images: float images in [-1, 1] of the model's shape.
        labels: 1 = anomaly, 0 = normal; both must occur.
        masks: optional binary ground-truth masks `(n, H, W)` (all zero for normal
            images). The model's anomaly maps are upsampled bilinearly to `H x W`.
        batch_size: images per forward pass.

    Returns:
        dict with "auroc", "aupr", "n_normal", "n_anomalous", "scores" (NumPy);
        when the model is calibrated, "threshold", "precision", "recall", "f1"; with
        masks, "pixel_auroc", "aupro" and "mask_resolution" (`[height, width]`).
    """
    check_labels(labels, len(images))
    batches = (images[i : i + batch_size] for i in range(0, len(images), batch_size))
    return evaluate_batches(model, batches, labels, masks)


def evaluate_batches(model, batches, labels, masks=None):
    """`evaluate_detector` of images that arrive in batches (streamed from files): one
    forward pass per batch gives its scores and, with masks, its maps, brought to the
    masks' resolution at once; memory holds one batch of images.

    Args:
        model: a detector of this package.
        batches: an iterable of float image batches in [-1, 1], in the order of
            `labels`.
        labels: 1 = anomaly, 0 = normal, one per image; both must occur.
        masks: optional binary masks `(n, H, W)`.

    Returns:
        what `evaluate_detector` returns.
    """
    scores, maps = [], []
    for x in batches:
        if masks is None:
            scores.append(model.predict(x, batch_size=len(x), verbose=0))
            continue
        batch_scores, batch_maps = model.predict_outputs(x, batch_size=len(x))
        scores.append(batch_scores)
        maps.append(resize_maps(batch_maps, np.shape(masks)[1:]))
    scores = np.concatenate(scores)
    labels = check_labels(labels, len(scores))
    result = ranking_metrics(scores, labels)
    result.update(
        n_normal=int((labels == 0).sum()), n_anomalous=int(labels.sum()), scores=scores
    )
    if masks is not None:
        masks = np.asarray(masks)
        if masks.ndim != 3 or len(masks) != len(scores):
            raise ValueError(
                f"masks must have shape (n, height, width) with n = {len(scores)} "
                f"images; got {masks.shape}."
            )
        result.update(pixel_metrics(np.concatenate(maps), masks))
        result["mask_resolution"] = [int(masks.shape[1]), int(masks.shape[2])]
    fitted = getattr(model, "calibration", None)
    if fitted is not None:
        decisions = calibrated_numpy(scores, fitted)["is_anomaly"]
        precision, recall, f1, _ = precision_recall_fscore_support(
            labels, decisions, average="binary", zero_division=0
        )
        result.update(
            threshold=fitted.threshold,
            precision=float(precision),
            recall=float(recall),
            f1=float(f1),
        )
    return result
