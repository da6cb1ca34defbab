"""training/plots.py: the ROC curve and the score histograms are drawn with their data."""


import numpy as np

from ganomaly_keras.training.plots import roc_curve_image, score_histogram_image


def _pixels_of(image, colour, tolerance=30):
    return int(np.sum(np.all(np.abs(image.astype(int) - colour) < tolerance, axis=-1)))


def test_roc_curve_and_histograms_are_drawn_with_their_data():
    labels = np.array([0, 0, 1, 1])
    roc = roc_curve_image(np.array([0.1, 0.4, 0.35, 0.8]), labels)
    assert roc.shape == (400, 450, 3) and roc.dtype == np.uint8
    red = (214, 39, 40)  # matplotlib's tab:red, the curve
    assert _pixels_of(roc, red) > 100
    # A perfect ranking draws its curve along the left and top edges: other pixels.
    perfect = roc_curve_image(np.array([0.1, 0.2, 0.8, 0.9]), labels)
    assert np.any(perfect != roc)
    histogram = score_histogram_image(np.array([0.1, 0.2, 0.8, 0.9]), labels, threshold=0.5)
    # tab:blue (normal) and tab:red (anomalous) bars at alpha 0.55 over white.
    over_white = lambda colour: 0.55 * np.array(colour) + 0.45 * 255  # noqa: E731
    assert _pixels_of(histogram, over_white((31, 119, 180)), 10) > 100
    assert _pixels_of(histogram, over_white(red), 10) > 100

