"""TensorBoard: losses, validation metrics, reconstructions, histograms and ROC."""

import glob

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras import GANomaly
from ganomaly_keras.callbacks import AUROCCallback
from ganomaly_keras.tensorboard import TensorBoardImages, reconstruction_grid, roc_curve_image


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
    roc = roc_curve_image(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    assert roc.shape == (256, 256, 3) and roc.dtype == np.uint8
