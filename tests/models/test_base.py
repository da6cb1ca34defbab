"""models/base.py: the abstract contract every member meets, and `compile`."""

import keras
import pytest

from ganomaly_keras import GANomaly
from tests import settings


def tiny(**kwargs):
    """A small GANomaly for fast tests (16x16, width 8, latent size 16)."""
    return settings.tiny(GANomaly, **{"latent_size": 16, **kwargs})


def test_compile_defaults_are_the_reference_adam():
    model = tiny()
    model.compile()
    for optimizer in (model.optimizer, model.discriminator_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)
        assert optimizer.beta_1 == 0.5 and optimizer.beta_2 == 0.999
    assert model.optimizer is not model.discriminator_optimizer
    # The generator optimizer holds G's variables only.
    assert len(model.optimizer._trainable_variables) == len(model.generator.trainable_variables)


@pytest.mark.parametrize("bad", [{"loss": "mse"}, {"metrics": ["mae"]}, {"optimizer": "adam"}])
def test_compile_rejects_arguments_that_do_not_apply(bad):
    with pytest.raises(ValueError, match="GANomaly"):
        tiny().compile(**bad)



def test_a_member_that_does_not_meet_the_contract_cannot_be_built():
    """The contract is an abc: a member without its score terms is refused by
    Python, naming what it lacks, before any network is built."""
    from ganomaly_keras.models import AdversarialDetector

    class Incomplete(AdversarialDetector):
        term_definitions = {}
        paper_score_weights = {"paper": ((1, "paper"),)}

        def _step_losses(self, x, training):
            return {}

    with pytest.raises(TypeError, match="abstract.*image_terms"):
        Incomplete(image_size=16, channels=1)
