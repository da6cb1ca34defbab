"""models/discriminator_reset.py: a collapsed discriminator is re-initialised with its
optimizer state, on one device and on several; a healthy one is left alone."""


import numpy as np
import pytest

from ganomaly_keras import GANomaly
from tests import helpers, settings


def tiny(**kwargs):
    """A small GANomaly for fast tests (16x16, width 8, latent size 16)."""
    return settings.tiny(GANomaly, **{"latent_size": 16, **kwargs})


def images(rng, n=32, size=16, channels=1):
    return settings.random_images(rng, n, size, channels)


def test_mirrored_discriminator_reinitialisation(mirrored, rng):
    x = rng.uniform(-1, 1, (32, 16, 16, 1)).astype("float32")
    model, history = helpers.train_under(mirrored, x, discriminator_reset_threshold=1e6)
    assert history["d_reinit"] == [2.0]
    assert int(model.discriminator_optimizer.iterations.numpy()) == 0


def test_collapsed_discriminator_is_reinitialised_with_its_optimizer(rng):
    # A threshold above any loss makes every step a collapse.
    model = tiny(discriminator_reset_threshold=1e6, seed=1)
    model.compile(jit_compile=False)
    x = images(rng)
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    first = [v.numpy() for v in model.discriminator.trainable_variables]
    history = model.fit(x, epochs=1, batch_size=16, verbose=0)
    assert history.history["d_reinit"] == [2.0]
    # Fresh optimizer state: step counter and moments back to zero.
    assert int(model.discriminator_optimizer.iterations) == 0
    for variable in model.discriminator_optimizer.variables:
        if variable is not model.discriminator_optimizer._learning_rate:
            assert not np.any(variable.numpy())
    assert float(model.discriminator_optimizer.learning_rate) == pytest.approx(2e-4)
    # Fresh weights, drawn anew (not a repeat of the previous draw), reference init.
    second = [v.numpy() for v in model.discriminator.trainable_variables]
    assert not any(np.array_equal(a, b) for a, b in zip(first, second) if a.std() > 0)
    kernels = np.concatenate([v.numpy().ravel() for v in model.discriminator.trainable_variables if "kernel" in v.path])
    assert abs(kernels.std() - 0.02) < 2e-3
    # The generator's optimizer is untouched.
    assert int(model.optimizer.iterations) == 4


def test_healthy_discriminator_is_left_alone(rng):
    model = tiny()
    model.compile(jit_compile=False)
    history = model.fit(images(rng), epochs=1, batch_size=16, verbose=0)
    assert history.history["d_reinit"] == [0.0]
    assert int(model.discriminator_optimizer.iterations) == 2

