"""train_step under tf.distribute.MirroredStrategy over two logical CPU devices."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganomaly_keras import GANomaly


def train(strategy, x, **kwargs):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = GANomaly(image_size=16, channels=1, latent_size=16, width=8,
                         sync_batchnorm=True, **kwargs)
        model.compile(jit_compile=False)
    history = model.fit(x, epochs=1, batch_size=16, shuffle=False, verbose=0)
    return model, history.history


@pytest.fixture(scope="module")
def mirrored():
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "conftest.py must create two logical CPU devices"
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])


def test_mirrored_training_matches_single_device(mirrored, rng):
    x = rng.uniform(-1, 1, (32, 16, 16, 1)).astype("float32")
    single_model, single = train(tf.distribute.get_strategy(), x)
    multi_model, multi = train(mirrored, x)
    assert multi_model.distribute_strategy.num_replicas_in_sync == 2
    # Two steps: the second one's losses depend on the first update, so gradients
    # reduced against the wrong batch size would show here.
    for name in ("g_loss", "g_adv", "g_con", "g_enc", "d_loss"):
        assert multi[name][0] == pytest.approx(single[name][0], rel=1e-4), name
    for a, b in zip(single_model.weights, multi_model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-5)


def test_mirrored_discriminator_reinitialisation(mirrored, rng):
    x = rng.uniform(-1, 1, (32, 16, 16, 1)).astype("float32")
    model, history = train(mirrored, x, discriminator_reset_threshold=1e6)
    assert history["d_reinit"] == [2.0]
    assert int(model.discriminator_optimizer.iterations.numpy()) == 0
