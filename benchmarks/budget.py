"""Training budgets read from validation curves.

`train_until_flat` trains a detector in chunks of `every_steps` steps, scores the
validation split after each chunk, and stops once the validation AUROC has flattened:
`patience` chunks in a row without a gain above `min_delta` over the best so far (Keras'
`EarlyStopping` on `val_auroc`). The weights of the best chunk are restored, so the
model that is tested afterwards is the one chosen on validation. The curve (steps,
AUROC of every paper score, seconds) comes back with the budget it implies, to print and
save beside the test figures. Nothing here sees a test image.

`flattened_at` applies the same rule to a curve already measured.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras.metrics.evaluation import ranking_metrics
from ganomaly_keras.training.callbacks import AUROCCallback


def flattened_at(aurocs, min_delta=0.005, patience=3):
    """Where a validation curve flattened, by `EarlyStopping`'s rule.

    Args:
        aurocs: validation AUROC after each chunk, in training order.
        min_delta: a gain of at most this over the best so far is no gain.
        patience: chunks in a row without a gain after which the curve is flat.

    Returns:
        `(best, flat)`: the index of the last chunk that gained more than `min_delta`
        (the budget), and whether `patience` chunks without a gain followed it.
    """
    if len(aurocs) == 0:
        raise ValueError("flattened_at needs at least one validation AUROC.")
    best, best_value, waited = 0, aurocs[0], 0
    for index, value in enumerate(aurocs[1:], start=1):
        if value - best_value > min_delta:
            best, best_value, waited = index, value, 0
        else:
            waited += 1
            if waited >= patience:
                return best, True
    return best, False


class _CurveRecorder(keras.callbacks.Callback):
    """Each chunk's step, seconds and validation AUROC of every paper score."""

    def __init__(self, images, labels, every_steps, batch_size):
        super().__init__()
        self.images, self.labels = images, labels
        self.every_steps, self.batch_size = every_steps, batch_size
        self.rows = []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {
            "step": (epoch + 1) * self.every_steps,
            "seconds": round(time.perf_counter() - self.start, 1),
            "auroc": float(logs["val_auroc"]),
        }
        others = [name for name in self.model.paper_scores if name != self.model.score]
        if others:
            terms = self.model.predict_terms(self.images, others, self.batch_size)
            row["auroc_by_score"] = {
                name: ranking_metrics(values, self.labels)["auroc"] for name, values in terms.items()
            }
        self.rows.append(row)


def train_until_flat(
    model,
    train_images,
    validation_images,
    validation_labels,
    every_steps=100,
    max_steps=2000,
    min_delta=0.005,
    patience=3,
    batch_size=64,
    seed=0,
    verbose=0,
):
    """Train `model` until its validation AUROC flattens; keep the best chunk's weights.

    Args:
        model: a compiled detector.
        train_images: float images in [-1, 1] (normal, or contaminated on purpose).
        validation_images: float images in [-1, 1], normal and anomalous.
        validation_labels: their labels, 1 = anomaly.
        every_steps: training steps between two validation scorings.
        max_steps: the most steps to train when the curve never flattens.
        min_delta: a validation AUROC gain of at most this is no gain.
        patience: chunks without a gain after which training stops.
        batch_size: training batch size.
        seed: shuffles the training images (with `keras.utils.set_random_seed(seed)`
            before building the model, the same data and seed give the same curve).
        verbose: Keras' progress output.

    Returns:
        dict: "curve" (one row per chunk: "step", "seconds", "auroc" of the model's
        score and, for models with several paper scores, "auroc_by_score"),
        "budget_steps" (the step of the restored, best chunk), "steps_trained",
        "flattened" (whether `patience` chunks without a gain were seen before
        `max_steps`), "seconds".
    """
    if every_steps < 1 or max_steps < every_steps:
        raise ValueError(
            f"need 1 <= every_steps <= max_steps; got {every_steps} and {max_steps}."
        )
    dataset = (
        tf.data.Dataset.from_tensor_slices(np.asarray(train_images, "float32"))
        .shuffle(len(train_images), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .prefetch(2)
    )
    recorder = _CurveRecorder(validation_images, validation_labels, every_steps, 256)
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_auroc", mode="max", min_delta=min_delta, patience=patience,
        restore_best_weights=True,
    )
    start = time.perf_counter()
    model.fit(
        dataset, steps_per_epoch=every_steps, epochs=max_steps // every_steps, verbose=verbose,
        callbacks=[AUROCCallback(validation_images, validation_labels), recorder, stopper],
    )
    best, flat = flattened_at([row["auroc"] for row in recorder.rows], min_delta, patience)
    return {
        "curve": recorder.rows,
        "budget_steps": recorder.rows[best]["step"],
        "steps_trained": recorder.rows[-1]["step"],
        "flattened": flat,
        "seconds": round(time.perf_counter() - start, 1),
    }
