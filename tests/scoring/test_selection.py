"""scoring/selection.py: `score="auto"` chooses on validation, never on test labels."""


import pytest

from ganomaly_keras.data.protocols import Split
from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.scoring.selection import choose_score
from ganomaly_keras.training.run import train_run
from tests.settings import TINY


def test_choose_score_takes_the_best_validation_auroc_with_a_fixed_tie_order():
    aurocs = {"latent_mse": 0.9, "residual_max": 0.8, "feature_max": 0.95}
    assert choose_score(aurocs, ("latent_mse",)) == "feature_max"
    tied = {"latent_mse": 1.0, "residual_max": 1.0, "feature_max": 1.0}
    assert choose_score(tied, ("latent_mse",)) == "residual_max"


def test_auto_score_is_chosen_without_the_test_labels(tmp_path, monkeypatch):
    """The same run with the test labels inverted chooses the same score from the same
    validation figures; only the test AUROC changes (to 1 - AUROC)."""
    spec = DataSpec(image_size=16)
    options = dict(TINY, score="auto")
    plain = train_run(str(tmp_path / "a"), spec, options, steps=6, export_formats=(), verbose=0)
    original = DataSpec.splits

    def inverted_test_labels(self):
        splits = original(self)
        test = splits["test"]
        splits["test"] = Split(test.images, 1 - test.labels, test.masks)
        return splits

    monkeypatch.setattr(DataSpec, "splits", inverted_test_labels)
    inverted = train_run(str(tmp_path / "b"), spec, options, steps=6, export_formats=(),
                         verbose=0)
    assert plain["score"]["selected_by"].startswith("validation")
    assert inverted["score"]["name"] == plain["score"]["name"]
    for term, value in plain["score"]["validation_auroc_by_term"].items():
        assert inverted["score"]["validation_auroc_by_term"][term] == pytest.approx(value, abs=1e-6)
    assert inverted["test"]["auroc"] == pytest.approx(1 - plain["test"]["auroc"], abs=1e-6)

