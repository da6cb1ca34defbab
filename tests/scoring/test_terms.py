"""scoring/terms.py: every score name scores as its term, map terms see small defects,
and standardised terms need their statistics."""


import numpy as np
import pytest

from ganomaly_keras import GANomaly, SkipGANomaly
from ganomaly_keras.scoring.terms import MAP_TERMS
from tests.settings import TINY


@pytest.mark.parametrize("cls", [GANomaly, SkipGANomaly])
def test_every_score_name_scores_as_its_term(cls, rng):
    x = rng.uniform(-1, 1, (6, 16, 16, 1)).astype("float32")
    model = cls(image_size=16, channels=1, seed=0, **TINY)
    model.fit_normal_statistics(x[:3])
    terms = model.predict_terms(x)
    assert set(terms) == set(model.paper_scores) | set(MAP_TERMS)
    for name in model.available_scores:
        other = model.with_score(name)
        np.testing.assert_allclose(other.predict(x, verbose=0), terms[name], rtol=1e-5, atol=1e-6)
        assert other.predict_maps(x).shape == (6, 16, 16)


def test_a_map_score_sees_a_small_defect_that_a_mean_dilutes():
    """The maximum of the smoothed residual ranks a 2x2 defect above mild noise spread
    over the whole image, which the mean residual cannot."""
    from ganomaly_keras.scoring import terms as scoring_terms

    x = np.zeros((2, 16, 16, 1), "float32")
    x_hat = np.zeros_like(x)
    x_hat[0] += 0.1  # normal: small error everywhere (mean 0.1)
    x_hat[1, 4:6, 4:6] = 1.0  # defect: large error on 4 pixels (mean 0.016)
    terms, _ = scoring_terms.compute_terms({"paper": np.zeros(2, "float32")}, x, x_hat, None,
                                     None, 3, ("residual_max",))
    assert float(terms["residual_max"][1]) > float(terms["residual_max"][0])
    assert np.abs(x - x_hat)[1].mean() < np.abs(x - x_hat)[0].mean()


def test_unknown_score_and_bad_smoothing_are_refused():
    with pytest.raises(ValueError, match="score must be one of .*residual_max"):
        GANomaly(image_size=16, channels=1, score="max_residual", **TINY)
    with pytest.raises(ValueError, match="map_smoothing must be a positive integer"):
        GANomaly(image_size=16, channels=1, map_smoothing=0, **TINY)


def test_standardised_scores_need_their_statistics_before_calibration(rng):
    model = GANomaly(image_size=16, channels=1, score="standardized_max", **TINY)
    x = rng.uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    with pytest.raises(ValueError, match="fit_normal_statistics"):
        model.calibrate(x)
    model.fit_normal_statistics(x)
    fitted = model.calibrate(x)
    standardized = model.predict(x, verbose=0)
    assert model.predict_terms(x, ("residual_max",))["residual_max"].tolist() != standardized.tolist()
    assert fitted.threshold == float(np.float32(np.quantile(standardized, 0.99)))
    assert model.calibration == fitted

