"""Keras callbacks for anomaly detectors."""

import keras
import numpy as np

from ganomaly_keras.evaluation import check_labels, ranking_metrics


class AUROCCallback(keras.callbacks.Callback):
    """Validation AUROC and average precision in the epoch logs.

    Every `every` epochs it scores labelled validation images (1 = anomaly) and writes
    `val_auroc` and `val_aupr` into the logs, so callbacks listed after it
    (`EarlyStopping(monitor="val_auroc", mode="max")`,
    `ModelCheckpoint(monitor="val_auroc", mode="max", save_best_only=True)`,
    `TensorBoard`) and the `History` see them. Use a validation split, never the test
    split: choosing epochs on test AUROC is the reference code's mistake.

    Args:
        images: validation images, float in [-1, 1].
        labels: their labels, 1 = anomaly, 0 = normal; both must occur.
        every: compute every this many epochs (and at the last epoch).
        batch_size: scoring batch size.
        restore_best_weights: at the end of training, go back to the weights of the
            epoch with the best `val_auroc`.

    Example:
    ```python
    model.fit(train_x, epochs=15, callbacks=[
        AUROCCallback(val_x, val_y),
        keras.callbacks.EarlyStopping(monitor="val_auroc", mode="max", patience=5),
    ])
    ```
    """

    def __init__(self, images, labels, every=1, batch_size=256, restore_best_weights=False):
        super().__init__()
        self.images = images
        self.labels = check_labels(labels, len(images))
        if every < 1:
            raise ValueError(f"every must be >= 1; got {every}.")
        self.every = int(every)
        self.batch_size = batch_size
        self.restore_best_weights = restore_best_weights
        self.best_auroc = -np.inf
        self.best_epoch = None
        self._best_weights = None

    def on_train_begin(self, logs=None):
        self.best_auroc, self.best_epoch, self._best_weights = -np.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") == epoch + 1
        if (epoch + 1) % self.every and not last:
            return
        scores = self.model.predict(self.images, batch_size=self.batch_size, verbose=0)
        metrics = ranking_metrics(scores, self.labels)
        if logs is not None:
            logs["val_auroc"] = metrics["auroc"]
            logs["val_aupr"] = metrics["aupr"]
        if metrics["auroc"] > self.best_auroc:
            self.best_auroc, self.best_epoch = metrics["auroc"], epoch
            if self.restore_best_weights:
                self._best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self._best_weights is not None:
            self.model.set_weights(self._best_weights)
