"""training/callbacks.py: AUROC in the logs, best checkpoints and their ties, and
exact step budgets."""


import keras
import numpy as np
import pytest
from sklearn.metrics import (
    roc_auc_score,
)

from ganomaly_keras import GANomaly
from ganomaly_keras.training.callbacks import AUROCCallback, StepBudget
from tests import helpers
from tests.settings import TINY


def test_auroc_callback_drives_early_stopping_and_checkpoints(digits16, tmp_path):
    from ganomaly_keras.data import leave_one_class_out

    images, classes = digits16
    splits = leave_one_class_out(images, classes, 0, validation_fraction=0.1, seed=0)
    val = splits["validation"]
    model = GANomaly(image_size=16, channels=1, width=8, latent_size=16, seed=0)
    model.compile(jit_compile=False)
    checkpoint = str(tmp_path / "best.keras")
    auroc = AUROCCallback(val.images, val.labels, restore_best_weights=True)
    history = model.fit(
        splits["train"].images[:256],
        epochs=4,
        batch_size=64,
        verbose=0,
        callbacks=[
            auroc,
            keras.callbacks.EarlyStopping(monitor="val_auroc", mode="max", patience=1),
            keras.callbacks.ModelCheckpoint(
                checkpoint, monitor="val_auroc", mode="max", save_best_only=True
            ),
            keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        ],
    )
    aurocs = history.history["val_auroc"]
    assert len(aurocs) == len(history.history["val_aupr"]) >= 2
    assert auroc.best_auroc == max(aurocs)
    # restore_best_weights: the model now scores validation at the best epoch's AUROC.
    restored = roc_auc_score(val.labels, model.predict(val.images, verbose=0))
    assert restored == pytest.approx(max(aurocs), abs=1e-6)
    # EarlyStopping saw val_auroc: it stops one epoch after the last improvement.
    best = int(np.argmax(aurocs))
    assert len(aurocs) == min(4, best + 2)
    # The checkpoint holds the best epoch's model, and the weights were restored.
    saved = keras.models.load_model(checkpoint)
    x = val.images[:16]
    np.testing.assert_allclose(saved.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
    assert "val_auroc" in (tmp_path / "log.csv").read_text().splitlines()[0]


def test_auroc_callback_rejects_unlabelled_validation_data():
    with pytest.raises(ValueError, match="both normal"):
        AUROCCallback(np.zeros((3, 16, 16, 1)), [0, 0, 0])


def test_checkpoint_ties_go_to_the_better_tie_breaker(tmp_path):
    from ganomaly_keras.training.callbacks import BestModelCheckpoint

    model = GANomaly(image_size=16, channels=1, **TINY)
    checkpoint = BestModelCheckpoint(str(tmp_path / "best.keras"), tie_breaker="val_aupro")
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    for epoch, (auroc, aupro_value) in enumerate([(1.0, 0.5), (1.0, 0.8), (1.0, 0.7), (0.9, 0.95)]):
        checkpoint.on_epoch_end(epoch, {"val_auroc": auroc, "val_aupro": aupro_value})
    assert checkpoint.best_epoch == 1
    without = BestModelCheckpoint(str(tmp_path / "other.keras"))
    without.set_model(model)
    without.on_train_begin()
    for epoch in range(3):
        without.on_epoch_end(epoch, {"val_auroc": 1.0})
    assert without.best_epoch == 0  # no tie-breaker: the first best stays


def test_step_budget_stops_after_exactly_that_many_updates(digits16):
    model, normal, _, _ = helpers.tiny_fit_data(digits16)  # 96 images / 32 = 3 steps an epoch
    model.fit(normal, epochs=5, batch_size=32, verbose=0, callbacks=[StepBudget(7)])
    assert int(model.optimizer.iterations.numpy()) == 7



def test_with_masks_the_checkpoint_is_selected_on_image_auroc_and_aupro_together():
    """`val_selection` is the mean of the image AUROC and the AUPRO of the maps, so a
    run keeps the checkpoint that detects and localises, not the one that ranked one
    of ten defective images better."""
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    masks = np.zeros((8, 16, 16), "uint8")
    masks[4:, 4:9, 4:9] = 1
    images[4:, 4:9, 4:9] = 1.0  # the defects are bright squares
    model = GANomaly(image_size=16, channels=1, **TINY)
    model(images[:1])
    callback = AUROCCallback(images, labels, masks=masks)
    callback.set_model(model)
    callback.set_params({"epochs": 1})
    logs = {}
    callback.on_epoch_end(0, logs)
    assert {"val_auroc", "val_aupro", "val_pixel_auroc", "val_selection"} <= set(logs)
    assert logs["val_selection"] == pytest.approx((logs["val_auroc"] + logs["val_aupro"]) / 2)
    # Without masks there is no localisation to weigh, and no val_selection.
    plain = {}
    without = AUROCCallback(images, labels)
    without.set_model(model)
    without.set_params({"epochs": 1})
    without.on_epoch_end(0, plain)
    assert "val_selection" not in plain and "val_auroc" in plain
