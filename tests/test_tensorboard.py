"""TensorBoard: losses, validation metrics, reconstructions, histograms and ROC."""

import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganomaly_keras import GANomaly
from ganomaly_keras.training.callbacks import AUROCCallback, StepBudget
from ganomaly_keras.training.plots import roc_curve_image, score_histogram_image
from ganomaly_keras.training.tensorboard import TensorBoardImages, reconstruction_grid


def _tags(log_dir):
    """Every summary tag written under `log_dir`, by the folder it was written to."""
    tags = {}
    for path in glob.glob(f"{log_dir}/**/events.out.tfevents.*", recursive=True):
        folder = path[len(str(log_dir)) + 1 :].split("/")[0]
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tags.setdefault(folder, set()).add(value.tag)
    return tags


def test_tensorboard_shows_losses_auroc_images_histograms_and_roc(tmp_path, digits16):
    images, classes = digits16
    normal, abnormal = images[classes != 0][:128], images[classes == 0][:16]
    val_x = np.concatenate([images[classes != 0][-16:], abnormal])
    val_y = np.r_[np.zeros(16), np.ones(16)].astype(int)
    model = GANomaly(image_size=16, channels=1, latent_size=8, width=8)
    model.compile(run_eagerly=False, jit_compile=False)
    log_dir = tmp_path / "tb"
    model.fit(
        normal,
        epochs=2,
        batch_size=32,
        verbose=0,
        callbacks=[
            AUROCCallback(val_x, val_y),
            keras.callbacks.TensorBoard(str(log_dir)),
            TensorBoardImages(str(log_dir), val_x, val_y, max_images=6),
        ],
    )
    tags = _tags(log_dir)
    for loss in ("g_loss", "g_adv", "g_con", "g_enc", "d_loss", "d_reinit"):
        assert f"epoch_{loss}" in tags["train"], (loss, tags)
    # Keras files val_* logs under validation/ without the prefix.
    assert {"epoch_auroc", "epoch_aupr"} <= tags["validation"]
    assert {"reconstructions", "scores/normal", "scores/anomalous", "roc_curve"} <= tags["anomaly"]


def test_reconstruction_grid_rows_and_roc_image():
    x = -np.ones((4, 8, 8, 1), np.float32)
    x_hat = x.copy()
    x_hat[1] = 1.0  # a residual of 2, shown white
    grid = reconstruction_grid(x, x_hat)
    assert grid.shape == (24, 32, 3)
    np.testing.assert_allclose(grid[16:, 8:16], 1.0)  # residual row, image 1: white
    np.testing.assert_allclose(grid[16:, :8], 0.0)  # no residual: black

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


def _tiny_fit_data(digits16):
    images, classes = digits16
    normal = images[classes != 0][:96]
    val_x = np.concatenate([images[classes != 0][-8:], images[classes == 0][:8]])
    val_y = np.r_[np.zeros(8), np.ones(8)].astype(int)
    model = GANomaly(image_size=16, channels=1, latent_size=8, width=8)
    model.compile(run_eagerly=False, jit_compile=False)
    return model, normal, val_x, val_y


def test_images_reuse_the_auroc_callbacks_scores_instead_of_rescoring(tmp_path, digits16):
    model, normal, val_x, val_y = _tiny_fit_data(digits16)
    auroc = AUROCCallback(val_x, val_y)
    images = TensorBoardImages(str(tmp_path / "tb"), val_x, val_y, auroc=auroc)
    calls = []
    predict = model.predict
    model.predict = lambda x, **kw: calls.append(len(x)) or predict(x, **kw)
    model.fit(normal, epochs=2, batch_size=32, verbose=0, callbacks=[auroc, images])
    # One scoring of the 16 validation images per epoch, by the AUROC callback only.
    assert calls == [16, 16]
    np.testing.assert_allclose(auroc.last_scores[1], predict(val_x, verbose=0), rtol=1e-5)
    assert {"scores/normal", "scores/anomalous"} <= _tags(tmp_path / "tb")["anomaly"]
    with pytest.raises(ValueError, match="same images"):
        TensorBoardImages(str(tmp_path / "tb2"), val_x.copy(), val_y, auroc=auroc)


def test_step_budget_stops_after_exactly_that_many_updates(digits16):
    model, normal, _, _ = _tiny_fit_data(digits16)  # 96 images / 32 = 3 steps an epoch
    model.fit(normal, epochs=5, batch_size=32, verbose=0, callbacks=[StepBudget(7)])
    assert int(model.optimizer.iterations.numpy()) == 7
