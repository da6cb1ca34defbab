"""The pictures of a run: the ROC curve and the score histograms, drawn with matplotlib.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no display, no
global state), and returned as RGB uint8 arrays for TensorBoard or written as PNG.
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve


def _figure():
    figure = Figure(figsize=(4.5, 4.0), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _pixels(figure):
    figure.tight_layout()
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def roc_curve_image(scores, labels):
    """The ROC curve of `scores` against `labels` (1 = anomaly), with its AUROC.

    Args:
        scores: raw scores, higher = more anomalous.
        labels: 0 (normal) or 1 (anomaly); both must occur.

    Returns:
        an RGB uint8 image `(height, width, 3)`.
    """
    fpr, tpr, _ = roc_curve(labels, scores)
    figure, axes = _figure()
    axes.plot(fpr, tpr, color="tab:red", linewidth=2,
              label=f"AUROC = {roc_auc_score(labels, scores):.4f}")
    axes.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="chance")
    axes.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate",
             ylabel="true positive rate", title="ROC curve")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    return _pixels(figure)


def score_histogram_image(scores, labels, threshold=None, bins=30):
    """Histograms of the scores of normal and anomalous images, with the threshold.

    Args:
        scores: raw scores.
        labels: 0 (normal) or 1 (anomaly).
        threshold: optional decision threshold (raw-score units), drawn as a line.
        bins: histogram bins, shared by both classes.

    Returns:
        an RGB uint8 image `(height, width, 3)`.
    """
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels)
    edges = np.histogram_bin_edges(scores, bins=bins)
    figure, axes = _figure()
    for label, name, colour in ((0, "normal", "tab:blue"), (1, "anomalous", "tab:red")):
        chosen = scores[labels == label]
        if chosen.size:
            axes.hist(chosen, bins=edges, alpha=0.55, color=colour,
                      label=f"{name} ({chosen.size})")
    if threshold is not None:
        axes.axvline(threshold, color="black", linestyle="--", linewidth=1.5,
                     label=f"threshold {threshold:.4g}")
    axes.set(xlabel="anomaly score (raw)", ylabel="images", title="Scores")
    axes.legend(loc="upper right")
    return _pixels(figure)


def save_png(image, path):
    """Write an RGB uint8 image as a PNG file."""
    from PIL import Image

    Image.fromarray(image).save(path)
