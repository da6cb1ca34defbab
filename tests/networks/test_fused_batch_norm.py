"""networks/fused_batch_norm.py: the fused kernel computes Keras' BatchNorm."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganomaly_keras import Encoder
from ganomaly_keras.networks.fused_batch_norm import FusedBatchNormalization
from ganomaly_keras.training.precision import dtype_policy, onednn_bfloat16_blocked


def _pair(shape):
    """A Keras BatchNormalization and a fused one with the same weights."""
    options = dict(
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.1, seed=0),
        beta_initializer=keras.initializers.RandomNormal(0.0, 0.1, seed=1),
    )
    reference = keras.layers.BatchNormalization(**options)
    fused = FusedBatchNormalization(**options)
    reference.build(shape)
    fused.build(shape)
    fused.set_weights(reference.get_weights())
    return reference, fused


def _train_call(layer, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        # A loss whose gradient through the normalisation is not zero.
        y32 = tf.cast(y, tf.float32)
        loss = tf.reduce_sum(y32 * upstream + 0.1 * y32**3)
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [tf.cast(t, tf.float32).numpy() for t in [y] + grads]


@pytest.mark.parametrize(
    "policy, tolerance",
    [
        # Each statistic sums 256 values: float32 round-off grows to about
        # sqrt(256) = 16 units of 2**-23; five times that.
        ("float32", 5 * 16 * 2**-23),
        # bfloat16 rounds every output to 8 bits of mantissa: five units of 2**-8.
        pytest.param("mixed_bfloat16", 5 * 2**-8, marks=pytest.mark.skipif(
            onednn_bfloat16_blocked(), reason="ONEDNN_MAX_CPU_ISA caps oneDNN below bfloat16"
        )),
    ],
)
def test_training_step_matches_keras_batch_norm(policy, tolerance):
    shape = (16, 4, 4, 8)
    x = tf.random.normal(shape, seed=3) * 3.0 + 1.0
    upstream = tf.random.normal(shape, seed=4)
    with dtype_policy(policy):
        reference, fused = _pair(shape)
        expected = _train_call(reference, x, upstream)
        actual = _train_call(fused, x, upstream)
    for name, e, a in zip(["output", "d_input", "d_gamma", "d_beta"], expected, actual):
        scale = max(np.abs(e).max(), 1.0)
        assert np.abs(e - a).max() / scale < tolerance, name
    # The moving statistics take the same step (biased batch variance, as Keras).
    np.testing.assert_allclose(
        fused.moving_mean.numpy(), reference.moving_mean.numpy(), atol=1e-6
    )
    np.testing.assert_allclose(
        fused.moving_variance.numpy(), reference.moving_variance.numpy(), rtol=1e-5
    )
    assert not np.allclose(fused.moving_variance.numpy(), 1.0)
    # Under bfloat16 the kernel reads and writes bfloat16, as the policy asks.
    with dtype_policy(policy):
        assert fused(x, training=True).dtype == reference.compute_dtype


def test_inference_and_unfusable_calls_are_the_keras_layer():
    reference, fused = _pair((16, 4, 4, 8))
    x = tf.random.normal((16, 4, 4, 8), seed=5)
    np.testing.assert_array_equal(
        fused(x, training=False).numpy(), reference(x, training=False).numpy()
    )
    # A 2-D input has no fused kernel: the Keras layer's own training call.
    flat_reference, flat_fused = _pair((16, 8))
    v = tf.random.normal((16, 8), seed=6)
    np.testing.assert_allclose(
        flat_fused(v, training=True).numpy(),
        flat_reference(v, training=True).numpy(),
        atol=1e-6,
    )


def test_networks_use_it_and_keras_files_reload_it(tmp_path):
    encoder = Encoder(image_size=16, channels=1, width=8)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    encoder(x, training=True)
    norms = [l for l in encoder.feature_blocks if isinstance(l, FusedBatchNormalization)]
    assert len(norms) == 1
    path = os.path.join(tmp_path, "encoder.keras")
    encoder.save(path)
    reloaded = keras.models.load_model(path)
    assert any(isinstance(l, FusedBatchNormalization) for l in reloaded.feature_blocks)
    np.testing.assert_allclose(
        reloaded(x, training=False).numpy(), encoder(x, training=False).numpy(), atol=1e-6
    )

