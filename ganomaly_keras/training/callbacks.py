"""Keras callbacks for anomaly detectors and resumable runs."""

import json
import os
import sys

import keras
import numpy as np

from ganomaly_keras.metrics.evaluation import check_labels, ranking_metrics
from ganomaly_keras.metrics.pixel import pixel_metrics, resize_maps
from ganomaly_keras.saving import save_model_atomically, write_json_atomically
from ganomaly_keras.scoring.normal_statistics import VALIDATION_INPUTS


class AUROCCallback(keras.callbacks.Callback):
    """Validation AUROC and average precision in the epoch logs.

    Every `every` epochs it scores labelled validation images (1 = anomaly) and writes
    `val_auroc` and `val_aupr` into the logs, so callbacks listed after it
    (`EarlyStopping(monitor="val_auroc", mode="max")`,
    `ModelCheckpoint(monitor="val_auroc", mode="max", save_best_only=True)`,
    `TensorBoard`) and the `History` see them. Use a validation split, never the test
    split: choosing epochs on test AUROC is the reference code's mistake.

    With `terms`, it also scores each named term of `ganomaly_keras.scoring.terms`
    (`val_auroc_<term>`), and `val_auroc` is the best of them: what `score="auto"`
    selects on. Standardised terms need `normal_images` (normal training images) to
    fit their statistics on; without, they are left out. With `masks`, it adds
    `val_pixel_auroc` and `val_aupro` of the model's anomaly maps, and
    `val_selection`, the mean of `val_auroc` and `val_aupro` (`val_auroc` where no
    region is defective): what a run selects its checkpoint on. Ten defective images
    give an image AUROC that one image's rank moves by 0.03; AUPRO is measured over
    every defective region's pixels, so the two together pick a checkpoint that
    detects *and* localises, not an undertrained one that ranked one image better.

    Args:
        images: validation images, float in [-1, 1].
        labels: their labels, 1 = anomaly, 0 = normal; both must occur.
        every: compute every this many epochs (and at the last epoch).
        batch_size: scoring batch size.
        restore_best_weights: at the end of training, go back to the weights of the
            epoch with the best `val_auroc`.
        terms: optional score-term names to compare (e.g. `model.available_scores`).
        masks: optional binary masks `(n, H, W)` of the images, for pixel metrics.
        normal_images: optional normal training images for the statistics of the
            standardised terms (never the validation images themselves).

    Example:
    ```python
    model.fit(train_x, epochs=15, callbacks=[
        AUROCCallback(val_x, val_y),
        keras.callbacks.EarlyStopping(monitor="val_auroc", mode="max", patience=5),
    ])
    ```
    """

    def __init__(
        self,
        images,
        labels,
        every=1,
        batch_size=256,
        restore_best_weights=False,
        terms=None,
        masks=None,
        normal_images=None,
    ):
        super().__init__()
        self.images = images
        self.labels = check_labels(labels, len(images))
        self.normal_images = normal_images
        self.terms = tuple(
            t for t in (terms or ()) if normal_images is not None or not t.startswith("standardized")
        )
        self.masks = masks
        if every < 1:
            raise ValueError(f"every must be >= 1; got {every}.")
        self.every = int(every)
        self.batch_size = batch_size
        self.restore_best_weights = restore_best_weights
        self.best_auroc = -np.inf
        self.best_epoch = None
        self._best_weights = None
        self.last_scores = None  # (epoch, scores of `images` under the model's score)

    def on_train_begin(self, logs=None):
        self.best_auroc, self.best_epoch, self._best_weights = -np.inf, None, None
        self.last_scores = None

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") == epoch + 1
        if (epoch + 1) % self.every and not last:
            return
        terms, maps = {}, None
        if self.terms or self.masks is not None:
            if self.normal_images is not None and any(t.startswith("standardized") for t in self.terms):
                self.model.fit_normal_statistics(
                    self.model.statistics_sample(self.normal_images, VALIDATION_INPUTS),
                    self.batch_size,
                )
            names = tuple(dict.fromkeys(self.terms + (self.model.score,)))
            # One forward pass per batch: every term, and the score's map for masks.
            if self.masks is not None:
                terms, maps = self.model.predict_terms(
                    self.images, names, self.batch_size, with_map=True
                )
            else:
                terms = self.model.predict_terms(self.images, names, self.batch_size)
        scores = terms.get(self.model.score)
        if scores is None:
            scores = self.model.predict(self.images, batch_size=self.batch_size, verbose=0)
        terms = {name: terms[name] for name in self.terms}
        self.last_scores = (epoch, np.asarray(scores))  # for TensorBoardImages(auroc=self)
        metrics = ranking_metrics(scores, self.labels)
        extra = {
            f"val_auroc_{name}": ranking_metrics(values, self.labels)["auroc"]
            for name, values in terms.items()
        }
        if extra:
            metrics["auroc"] = max(extra.values())
        if self.masks is not None:
            found = pixel_metrics(resize_maps(maps, np.shape(self.masks)[1:]), self.masks)
            extra.update({f"val_{k}": v for k, v in found.items() if v is not None})
            aupro = extra.get("val_aupro")
            extra["val_selection"] = (
                metrics["auroc"] if aupro is None else (metrics["auroc"] + aupro) / 2
            )
        if logs is not None:
            logs["val_auroc"] = metrics["auroc"]
            logs["val_aupr"] = metrics["aupr"]
            logs.update(extra)
        if metrics["auroc"] > self.best_auroc:
            self.best_auroc, self.best_epoch = metrics["auroc"], epoch
            if self.restore_best_weights:
                self._best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self._best_weights is not None:
            self.model.set_weights(self._best_weights)


def _json_value(value):
    value = np.asarray(value).item() if np.ndim(value) == 0 else value
    return float(value) if isinstance(value, (float, np.floating, int, np.integer)) else value


class RunHistory(keras.callbacks.Callback):
    """Every epoch's logs in a JSON file that survives interruption and resumption.

    The file is rewritten atomically after each epoch. When training resumes (e.g.
    with `keras.callbacks.BackupAndRestore`), rows of the epochs about to be redone
    are dropped, so each epoch appears once. List it after the callbacks that add to
    the logs (`AUROCCallback`).

    Args:
        path: the `.json` file; rows are `{"epoch": int, <metric>: float, ...}`.
    """

    def __init__(self, path):
        super().__init__()
        self.path = os.fspath(path)
        self.rows = []
        self.first_epoch = None

    def on_train_begin(self, logs=None):
        self.first_epoch = None
        self.rows = []
        if os.path.exists(self.path):
            with open(self.path) as handle:
                self.rows = json.load(handle)

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:  # the epoch this session starts (or resumes) at
            self.first_epoch = int(epoch)
            self.rows = [row for row in self.rows if row["epoch"] < epoch]
            if epoch:
                print(f"resuming at epoch {epoch + 1}", file=sys.stderr)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": int(epoch)}
        row.update({k: _json_value(v) for k, v in (logs or {}).items()})
        self.rows.append(row)
        write_json_atomically(self.path, self.rows)


class BestModelCheckpoint(keras.callbacks.Callback):
    """Save the model whenever `monitor` improves, atomically, across resumptions.

    Like `keras.callbacks.ModelCheckpoint(save_best_only=True)`, but the file is
    written through a temporary file and a rename (an interruption never leaves a
    truncated model), and the best value is kept beside it, so a resumed run does not
    overwrite a better model from before the interruption.

    Args:
        path: the `.keras` file.
        monitor: the log to watch (default `val_auroc`, from `AUROCCallback`).
        mode: "max" or "min".
        tie_breaker: optional log that decides between epochs whose `monitor` is
            equal, in the same `mode` (e.g. `val_aupro`: on a small validation split
            image AUROC saturates at 1.0 early, and the first epoch to reach it is
            not the one whose maps localise best). Epochs without it never win a tie.
    """

    def __init__(self, path, monitor="val_auroc", mode="max", tie_breaker=None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f'mode must be "max" or "min"; got {mode!r}.')
        self.path = os.fspath(path)
        self.monitor = monitor
        self.mode = mode
        self.state_path = self.path + ".best.json"
        self.tie_breaker = tie_breaker
        self.best = None
        self.best_tie = None
        self.best_epoch = None

    def on_train_begin(self, logs=None):
        self.best, self.best_tie, self.best_epoch = None, None, None
        if os.path.exists(self.state_path) and os.path.exists(self.path):
            with open(self.state_path) as handle:
                state = json.load(handle)
            self.best, self.best_epoch = state["best"], state["epoch"]
            self.best_tie = state.get("tie")

    def _better(self, value, than):
        return value > than if self.mode == "max" else value < than

    def _improves(self, value, tie):
        if self.best is None or self._better(value, self.best):
            return True
        if value != self.best or tie is None:
            return False
        return self.best_tie is None or self._better(tie, self.best_tie)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        tie = (logs or {}).get(self.tie_breaker) if self.tie_breaker else None
        tie = None if tie is None else float(tie)
        if self._improves(value, tie):
            save_model_atomically(self.model, self.path)
            self.best, self.best_tie, self.best_epoch = value, tie, int(epoch)
            write_json_atomically(
                self.state_path,
                {"monitor": self.monitor, "best": value, "epoch": int(epoch),
                 "tie_breaker": self.tie_breaker, "tie": tie},
            )


class StepBudget(keras.callbacks.Callback):
    """Stop training after exactly `steps` optimizer updates.

    `fit(..., epochs=ceil(steps / steps_per_epoch), steps_per_epoch=...)` with this
    callback makes exactly `steps` updates, even when `steps` is not a multiple of
    `steps_per_epoch`: the last epoch ends early, and its epoch-end callbacks
    (validation, checkpoints) still run. It counts the generator optimizer's
    iterations, so a run resumed by `BackupAndRestore` keeps its budget. It reads
    the counter once per epoch and counts batches from there: reading it after every
    batch would wait for each step to finish before the next is dispatched.

    Args:
        steps: int >= 1, the number of updates.
    """

    def __init__(self, steps):
        super().__init__()
        if int(steps) != steps or steps < 1:
            raise ValueError(f"steps must be a positive integer; got {steps!r}.")
        self.steps = int(steps)
        self._epoch_start = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the index of the epoch's last step run so far (with
        # steps_per_execution > 1, the last of the group).
        if self._epoch_start + batch + 1 >= self.steps:
            self.model.stop_training = True


def training_budget(epochs, steps, validation_every):
    """`(epochs, steps_per_epoch)` for `fit`: epochs as given, or a step budget split
    into `validation_every`-step epochs (default: five of them)."""
    if steps is None:
        if epochs is None or int(epochs) != epochs or epochs < 1:
            raise ValueError(f"epochs must be a positive integer; got {epochs!r}.")
        return int(epochs), None
    if epochs is not None:
        raise ValueError("give epochs or steps, not both.")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}.")
    every = validation_every or max(1, -(-int(steps) // 5))
    if int(every) != every or every < 1:
        raise ValueError(f"validation_every must be a positive integer; got {every!r}.")
    every = min(int(every), int(steps))
    return -(-int(steps) // every), every
