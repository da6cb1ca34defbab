"""AnoGAN: its latent search, and the checks every family member owes."""

import numpy as np
import tensorflow as tf

from ganomaly_keras import AnoGAN
from tests import settings
from tests.detector_test_case import DetectorTestCase

images = settings.random_images


def anogan(**kwargs):
    kwargs = {"image_size": 16, "channels": 1, "latent_size": 8, "width": 8, "seed": 0, "search_steps": 20, **kwargs}
    return AnoGAN(**kwargs)


def test_anogan_search_lowers_the_loss_and_is_batch_independent(rng):
    model = anogan(search_steps=30)
    x = images(rng, 5)
    _, real_features = model.discriminator(x, training=False)
    start = tf.tile(model._search_start(), (5, 1, 1, 1))
    at_start, _ = model._search_loss(x, tf.cast(real_features, "float32"), start)
    scores = model.predict(x, verbose=0)
    assert np.all(scores < np.asarray(at_start))
    alone = [model.predict(x[i : i + 1], verbose=0)[0] for i in range(5)]
    np.testing.assert_allclose(alone, scores, rtol=1e-4)


def test_anogan_search_forward_equals_the_networks(rng):
    """The search's exportable forward pass computes what G and D compute."""
    from ganomaly_keras.models.anogan.model import search_forward

    model = anogan()
    z = rng.normal(size=(4, 1, 1, 8)).astype("float32")
    generated = search_forward(model.generator.blocks, z)
    np.testing.assert_allclose(generated, model.generator(z, training=False), rtol=1e-6, atol=1e-7)
    features = search_forward(model.discriminator.body.feature_blocks, generated)
    _, expected = model.discriminator(generated, training=False)
    np.testing.assert_allclose(features, expected, rtol=1e-6, atol=1e-7)


class TestAnoGANContract(DetectorTestCase):
    """The checks every family member owes (`tests.detector_test_case`)."""

    detector_class = AnoGAN
    init_kwargs = {"search_steps": 10}
    losses = ("g_loss", "d_loss")
    reinitialises_discriminator = False
