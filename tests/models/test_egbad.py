"""EGBAD: what it trains and how it scores, and the checks every family member owes."""

import numpy as np

from ganomaly_keras import EGBAD
from tests import settings
from tests.detector_test_case import DetectorTestCase

images = settings.random_images


def egbad(**kwargs):
    kwargs = {"image_size": 16, "channels": 1, "latent_size": 8, "width": 8, "joint_units": 16, "seed": 0, **kwargs}
    return EGBAD(**kwargs)


def _changed(before, network):
    return any(not np.allclose(a, np.array(b)) for a, b in zip(before, network.trainable_variables))


def test_egbad_trains_generator_encoder_and_joint_discriminator(rng):
    model = egbad()
    model.compile(jit_compile=False)
    nets = (model.generator, model.encoder, model.discriminator)
    before = [[np.array(v) for v in n.trainable_variables] for n in nets]
    history = model.fit(images(rng, 32), epochs=1, batch_size=16, verbose=0)
    assert set(history.history) == {"g_loss", "d_loss"}
    assert all(_changed(b, n) for b, n in zip(before, nets))
    # G and E share the generator optimizer: it holds both networks' variables.
    assert len(model.generator_variables) == len(model.generator.trainable_variables) + len(
        model.encoder.trainable_variables
    )


def test_egbad_score_follows_its_definition(rng):
    model = egbad(reconstruction_score_weight=0.8, feature_score_weight=0.2)
    x = images(rng, 6)
    x_hat, code = model.reconstruction_outputs(x)
    _, f_real = model.discriminator((x, code), training=False)
    _, f_fake = model.discriminator((x_hat, code), training=False)
    expected = 0.8 * np.abs(x - np.asarray(x_hat)).mean((1, 2, 3)) + 0.2 * np.abs(
        np.asarray(f_real) - np.asarray(f_fake)
    ).mean(-1)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)
    assert model.score_definition.startswith("0.8 * (mean |x - G(E(x))|) + 0.2 * (")


class TestEGBADContract(DetectorTestCase):
    """The checks every family member owes (`tests.detector_test_case`)."""

    detector_class = EGBAD
    init_kwargs = {"joint_units": 16}
    losses = ("g_loss", "d_loss")
    reinitialises_discriminator = False
