"""benchmarks/budget.py: training until the validation AUROC is flat."""

import keras
import numpy as np
import pytest

from benchmarks.budget import flattened_at, train_until_flat
from ganomaly_keras import GANomaly
from ganomaly_keras.data import leave_one_class_out
from ganomaly_keras.metrics.evaluation import ranking_metrics


@pytest.mark.parametrize("curve,expected", [
    ([0.5, 0.6, 0.7, 0.7, 0.701, 0.69], (2, True)),   # gains stop after the third
    ([0.5, 0.6, 0.7, 0.8], (3, False)),                # still rising: not flat
    ([0.9, 0.5, 0.6, 0.7], (0, True)),                 # best first, never beaten
    ([0.5, 0.504, 0.508, 0.512, 0.6], (4, False)),     # small steps are no gain
])
def test_a_curve_flattens_when_patience_chunks_gain_nothing(curve, expected):
    assert flattened_at(curve, min_delta=0.005, patience=3) == expected


def test_flattened_at_needs_a_curve():
    with pytest.raises(ValueError, match="at least one"):
        flattened_at([])


@pytest.mark.slow
def test_the_same_data_and_seed_give_the_same_budget(digits16):
    images, classes = digits16
    splits = leave_one_class_out(images, classes, 0, validation_fraction=0.1, seed=0)
    train, val = splits["train"].images[:512], splits["validation"]
    results = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        model = GANomaly(image_size=16, channels=1, width=8, latent_size=8, seed=0)
        model.compile(jit_compile=False)
        result = train_until_flat(model, train, val.images, val.labels, every_steps=4,
                                  max_steps=24, patience=2, batch_size=32, seed=0)
        results.append(result)
        # The model keeps the weights of its budget's chunk.
        best = next(r for r in result["curve"] if r["step"] == result["budget_steps"])
        restored = ranking_metrics(model.predict(val.images, verbose=0), val.labels)["auroc"]
        assert restored == pytest.approx(best["auroc"], abs=1e-6)
    assert results[0]["budget_steps"] == results[1]["budget_steps"]
    assert [r["auroc"] for r in results[0]["curve"]] == pytest.approx(
        [r["auroc"] for r in results[1]["curve"]], abs=1e-6
    )
    steps = [r["step"] for r in results[0]["curve"]]
    assert steps == list(range(4, results[0]["steps_trained"] + 1, 4))
    assert results[0]["steps_trained"] <= 24


def test_a_budget_needs_a_positive_chunk(digits16):
    model = GANomaly(image_size=16, channels=1, width=8, latent_size=8)
    with pytest.raises(ValueError, match="every_steps <= max_steps"):
        train_until_flat(model, digits16[0][:8], digits16[0][:8], np.r_[0, 1, 0, 1, 0, 1, 0, 1],
                         every_steps=10, max_steps=5)

