"""scoring/selection.py: `score="auto"` chooses on validation, never on test labels."""


import pytest

from ganomaly_keras.data.protocols import Split
from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.scoring.selection import auroc_standard_error, choose_score
from ganomaly_keras.training.run import train_run
from tests.settings import TINY


def test_choose_score_takes_the_best_validation_auroc_with_a_fixed_tie_order():
    aurocs = {"latent_mse": 0.9, "residual_max": 0.8, "feature_max": 0.95}
    assert choose_score(aurocs, ("latent_mse",)) == "feature_max"
    tied = {"latent_mse": 1.0, "residual_max": 1.0, "feature_max": 1.0}
    assert choose_score(tied, ("latent_mse",)) == "residual_max"


def test_every_term_can_be_chosen_not_only_the_preferred_ones():
    aurocs = {"latent_mse": 0.5, "residual_max": 0.6, "msgms_max": 0.7, "segmentation_max": 0.9}
    assert choose_score(aurocs, ("latent_mse",)) == "segmentation_max"
    assert choose_score({"residual_max": 0.5, "new_term": 0.8}, ()) == "new_term"


def test_the_ssim_term_comes_after_the_paper_score_on_a_tie():
    """On PIPED's PA_BRG03_TL both scored validation AUROC 1.0 (10 impure, 6 good
    images); on test the SSIM term scored 0.666 and the paper score 0.853."""
    tied = {"latent_mse": 1.0, "ssim_max": 1.0, "residual_max": 0.53}
    assert choose_score(tied, ("latent_mse",), 10, 6) == "latent_mse"
    assert choose_score({"ssim_max": 0.9, "residual_max": 0.5}, (), 10, 6) == "ssim_max"


def test_a_small_validation_split_keeps_the_preferred_term_within_its_noise():
    """With 10 anomalous and 28 normal images, 0.88 against 0.85 is one image's rank:
    the preferred term stays. Beyond one standard error the better term wins."""
    aurocs = {"residual_max": 0.85, "segmentation_topk": 0.88}
    error = auroc_standard_error(0.88, 10, 28)
    assert 0.03 < error < 0.08
    assert choose_score(aurocs, (), 10, 28) == "residual_max"
    assert choose_score(aurocs, ()) == "segmentation_topk"
    clear = {"residual_max": 0.88 - 1.01 * error, "segmentation_topk": 0.88}
    assert choose_score(clear, (), 10, 28) == "segmentation_topk"
    # The error shrinks with more images: a large split separates 0.85 from 0.88.
    assert choose_score(aurocs, (), 1000, 2800) == "segmentation_topk"


def test_the_auroc_standard_error_matches_hanley_and_mcneil():
    # Their formula by hand at AUROC 0.9 with 50 and 50 images: Q1 = 0.9 / 1.1,
    # Q2 = 1.62 / 1.9, variance = (0.09 + 49 (Q1 - 0.81) + 49 (Q2 - 0.81)) / 2500.
    assert auroc_standard_error(0.9, 50, 50) == pytest.approx(0.03212, abs=1e-5)
    assert auroc_standard_error(1.0, 10, 10) == 0.0
    with pytest.raises(ValueError, match="at least one anomalous"):
        auroc_standard_error(0.5, 0, 10)


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

