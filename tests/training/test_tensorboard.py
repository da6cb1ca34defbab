"""training/tensorboard.py: what TensorBoard shows, and images reusing the AUROC
callback's scores."""

import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganomaly_keras import GANomaly
from ganomaly_keras.training.callbacks import AUROCCallback
from ganomaly_keras.training.tensorboard import TensorBoardImages, reconstruction_grid
from tests import helpers


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


def test_images_reuse_the_auroc_callbacks_scores_instead_of_rescoring(tmp_path, digits16):
    model, normal, val_x, val_y = helpers.tiny_fit_data(digits16)
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

