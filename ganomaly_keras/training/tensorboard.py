"""What a detector looks like in TensorBoard: reconstructions, residuals, scores, ROC.

Losses and `val_auroc` / `val_aupr` reach TensorBoard through Keras' own
`keras.callbacks.TensorBoard` (list it after `AUROCCallback`). `TensorBoardImages`
adds what Keras cannot know about: a grid of fixed validation images with their
reconstructions and residual heat maps, histograms of normal and anomalous scores,
and the ROC curve as an image.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras.metrics.evaluation import check_labels
from ganomaly_keras.training.plots import roc_curve_image

# Anchors of a black-red-yellow-white heat map for residuals in [0, 1].
_HEAT_ANCHORS = np.array([0.0, 0.35, 0.7, 1.0])
_HEAT_COLOURS = np.array(
    [[0, 0, 0], [180, 20, 30], [250, 200, 40], [255, 255, 255]], np.float32
) / 255.0


def heat_map(values):
    """Values in [0, 1] of shape `(..., h, w)` as RGB `(..., h, w, 3)` in [0, 1]."""
    values = np.clip(values, 0.0, 1.0)
    return np.stack(
        [np.interp(values, _HEAT_ANCHORS, _HEAT_COLOURS[:, c]) for c in range(3)],
        axis=-1,
    ).astype(np.float32)


def reconstruction_grid(images, reconstructions):
    """One RGB image in [0, 1]: rows input / reconstruction / |residual| heat map.

    Args:
        images, reconstructions: `(n, h, w, c)` in [-1, 1].
    """
    def rgb(x):
        x = (np.asarray(x, np.float32) + 1.0) / 2.0
        return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x

    # Mean absolute residual over channels, in [0, 2]; halved to [0, 1].
    residual = np.abs(np.asarray(images) - np.asarray(reconstructions)).mean(-1) / 2.0
    rows = [rgb(images), rgb(reconstructions), heat_map(residual)]
    return np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)


def mask_overlay_grid(images, maps, masks):
    """One RGB image in [0, 1]: rows input / anomaly map / input with the defect
    mask in red.

    Args:
        images: `(n, h, w, c)` in [-1, 1].
        maps: the model's anomaly maps `(n, h, w)`, scaled together by their maximum.
        masks: binary masks `(n, H, W)`, resized to `h x w` (nearest) for display.
    """
    images = (np.asarray(images, np.float32) + 1.0) / 2.0
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    maps = np.asarray(maps, np.float32)
    span = max(float(maps.max() - maps.min()), 1e-12)
    heat = heat_map((maps - maps.min()) / span)
    size = images.shape[1:3]
    shown = tf.image.resize(
        np.asarray(masks, np.float32)[..., None], size, method="nearest"
    ).numpy()
    red = np.array([1.0, 0.0, 0.0], np.float32)
    overlay = images * (1 - 0.5 * shown) + 0.5 * shown * red
    rows = [images, heat, overlay]
    return np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)


class TensorBoardImages(keras.callbacks.Callback):
    """Reconstruction grids, score histograms and the ROC curve in TensorBoard.

    Every `every` epochs (and at the last), on labelled validation images
    (1 = anomaly), it writes under `log_dir/anomaly`:

    - `reconstructions`: up to `max_images` fixed images (half normal, half anomalous
      when there are both), their reconstructions and absolute residual heat maps;
    - `scores/normal` and `scores/anomalous`: histograms of the anomaly scores;
    - `roc_curve`: the ROC curve with its AUROC, drawn with matplotlib (the run
      writes the test split's score histograms, threshold marked, beside it);
    - with `masks`, `anomaly_maps`: the same images, the anomaly map of the model's
      score and the ground-truth mask over the image, side by side.

    The model needs `reconstruct(x)` (every detector of this package has it).

    Args:
        log_dir: the TensorBoard log folder (the same as Keras' `TensorBoard`).
        images: validation images in [-1, 1]; never the test split.
        labels: their labels, 1 = anomaly, 0 = normal; both must occur.
        every: write every this many epochs.
        max_images: images in the reconstruction grid.
        seed: picks the grid's images.
        batch_size: images per forward pass.
        masks: optional binary ground-truth masks `(n, H, W)` of the images.
        auroc: optional `AUROCCallback` on the same `images`, listed before this
            callback: the epochs it scored are not scored again here.

    Example:
    ```python
    auroc = AUROCCallback(val_x, val_y)
    model.fit(train_x, epochs=15, callbacks=[
        auroc,
        keras.callbacks.TensorBoard("runs/tb"),
        TensorBoardImages("runs/tb", val_x, val_y, auroc=auroc),
    ])
    ```
    """

    def __init__(
        self, log_dir, images, labels, every=1, max_images=8, seed=0, batch_size=256,
        masks=None, auroc=None,
    ):
        super().__init__()
        if auroc is not None and auroc.images is not images:
            raise ValueError(
                "auroc= must be an AUROCCallback on the same images array as this "
                "callback, so that its scores can be reused; pass the same array to both."
            )
        self.auroc = auroc
        self.images = images
        self.masks = masks
        self.labels = check_labels(labels, len(images))
        if every < 1:
            raise ValueError(f"every must be >= 1; got {every}.")
        self.every = int(every)
        self.batch_size = batch_size
        self.log_dir = os.path.join(os.fspath(log_dir), "anomaly")
        rng = np.random.default_rng(seed)
        per_label = max(1, max_images // 2)
        self.grid_indices = np.sort(
            np.concatenate(
                [
                    rng.permutation(np.flatnonzero(self.labels == label))[:per_label]
                    for label in (0, 1)
                ]
            )
        )
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") == epoch + 1
        if (epoch + 1) % self.every and not last:
            return
        self.write(step=epoch + 1)

    def write(self, step):
        """Write every summary now.

        Args:
            step: the TensorBoard step (an epoch count).
        """
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        shared = self.auroc.last_scores if self.auroc is not None else None
        if shared is not None and shared[0] == step - 1:  # scored this epoch already
            scores = shared[1]
        else:
            scores = np.asarray(
                self.model.predict(self.images, batch_size=self.batch_size, verbose=0)
            )
        sample = np.asarray(self.images)[self.grid_indices]
        grid = reconstruction_grid(sample, self.model.reconstruct(sample))
        with self._writer.as_default(step=step):
            tf.summary.image(
                "reconstructions",
                grid[None],
                description="rows: input, reconstruction, |input - reconstruction| "
                "(black 0, white >= 1); columns: normal then anomalous images",
            )
            tf.summary.histogram("scores/normal", scores[self.labels == 0])
            tf.summary.histogram("scores/anomalous", scores[self.labels == 1])
            tf.summary.image("roc_curve", roc_curve_image(scores, self.labels)[None])
            if self.masks is not None:
                overlay = mask_overlay_grid(
                    sample, self.model.predict_maps(sample),
                    np.asarray(self.masks)[self.grid_indices],
                )
                tf.summary.image(
                    "anomaly_maps",
                    overlay[None],
                    description="rows: input, the score's anomaly map, ground-truth "
                    "mask in red",
                )
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
