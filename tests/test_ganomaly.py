"""GANomaly's training step, scores and input checks (DESIGN.md sections 2 and 3)."""

import keras
import numpy as np
import pytest
import settings
import tensorflow as tf

from ganomaly_keras import GANomaly

LOSS_NAMES = {"g_loss", "g_adv", "g_con", "g_enc", "d_loss"}


def tiny(**kwargs):
    """A small GANomaly for fast tests (16x16, width 8, latent size 16)."""
    return settings.tiny(GANomaly, **{"latent_size": 16, **kwargs})


def images(rng, n=32, size=16, channels=1):
    return settings.random_images(rng, n, size, channels)


def test_fit_reports_every_loss_component(rng):
    model = tiny()
    model.compile(jit_compile=False)
    history = model.fit(images(rng), epochs=2, batch_size=8, verbose=0)
    assert set(history.history) == LOSS_NAMES | {"d_reinit"}
    for name in LOSS_NAMES:
        assert len(history.history[name]) == 2
        assert np.all(np.isfinite(history.history[name]))
    # 4 steps per epoch: the generator optimizer is the step counter TensorBoard uses.
    assert int(model.optimizer.iterations) == 8
    assert int(model.discriminator_optimizer.iterations) == 8


def test_generator_loss_is_the_weighted_sum(rng):
    model = tiny(adversarial_weight=2.0, contextual_weight=10.0, encoder_weight=3.0)
    model.compile(jit_compile=False)
    logs = model.evaluate(images(rng), batch_size=32, verbose=0, return_dict=True)
    expected = 2.0 * logs["g_adv"] + 10.0 * logs["g_con"] + 3.0 * logs["g_enc"]
    assert logs["g_loss"] == pytest.approx(expected, rel=1e-5)
    assert set(logs) == LOSS_NAMES


def test_losses_match_a_direct_computation(rng):
    model = tiny()
    model.compile(jit_compile=False)
    x = images(rng, n=16)
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    x_hat, z, z_hat = (np.asarray(t) for t in model.generator(x, training=False))
    p_real, f_real = model.discriminator(x, training=False)
    p_fake, f_fake = model.discriminator(x_hat, training=False)
    assert logs["g_con"] == pytest.approx(np.mean(np.abs(x - x_hat)), rel=1e-5)
    assert logs["g_enc"] == pytest.approx(np.mean((z - z_hat) ** 2), rel=1e-5)
    assert logs["g_adv"] == pytest.approx(np.mean((np.asarray(f_real) - np.asarray(f_fake)) ** 2), rel=1e-4)
    sigmoid = lambda t: 1 / (1 + np.exp(-np.asarray(t, "float64")))  # noqa: E731
    bce = -0.5 * (np.mean(np.log(sigmoid(p_real))) + np.mean(np.log(1 - sigmoid(p_fake))))
    assert logs["d_loss"] == pytest.approx(bce, rel=1e-4)


def test_batches_may_carry_labels(rng):
    model = tiny()
    model.compile(jit_compile=False)
    x = images(rng)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(8)
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])
    assert model.predict(dataset, verbose=0).shape == (len(x),)


def test_fit_updates_only_the_right_networks(rng):
    """G's step must not move D and D's step must not move G: with D's learning rate
    zero, D stays put while G changes, and vice versa."""
    x = images(rng)
    model = tiny()
    model.compile(discriminator_optimizer=keras.optimizers.Adam(0.0), jit_compile=False)
    d_before = [v.numpy() for v in model.discriminator.trainable_variables]
    g_before = [v.numpy() for v in model.generator.trainable_variables]
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(d_before, model.discriminator.trainable_variables))
    assert not all(np.array_equal(a, v.numpy()) for a, v in zip(g_before, model.generator.trainable_variables))

    model = tiny()
    model.compile(generator_optimizer=keras.optimizers.Adam(0.0), jit_compile=False)
    g_before = [v.numpy() for v in model.generator.trainable_variables]
    d_before = [v.numpy() for v in model.discriminator.trainable_variables]
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(g_before, model.generator.trainable_variables))
    assert not all(np.array_equal(a, v.numpy()) for a, v in zip(d_before, model.discriminator.trainable_variables))


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


def _trained(rng):
    model = tiny()
    model.compile(jit_compile=False)
    model.fit(images(rng, n=64), epochs=2, batch_size=16, verbose=0)
    return model


def test_scores_are_the_latent_distance(rng):
    model = _trained(rng)
    x = images(rng, n=8)
    z, z_hat = model.latent_codes(x)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.mean((z - z_hat) ** 2, axis=1), rtol=1e-5)
    l1 = tiny(score="latent_l1")
    l1.set_weights(model.get_weights())
    z, z_hat = l1.latent_codes(x)
    np.testing.assert_allclose(l1.predict(x, verbose=0), np.mean(np.abs(z - z_hat), axis=1), rtol=1e-5)
    with pytest.raises(ValueError, match="latent_mse"):
        tiny(score="pixel")


def test_reconstruct(rng):
    model = _trained(rng)
    x = images(rng, n=10)
    x_hat = model.reconstruct(x, batch_size=4)
    assert x_hat.shape == x.shape and x_hat.dtype == np.float32
    assert np.all(np.abs(x_hat) <= 1)
    np.testing.assert_allclose(x_hat[:3], model.reconstruct(x[:3]), atol=1e-5)


@pytest.mark.parametrize(
    "bad,message",
    [
        (np.zeros((4, 16, 16), "float32"), r"channel axis: x\[\.\.\., None\]"),
        (np.zeros((16, 16, 1), "float32"), r"batch axis: x\[None\]"),
        (np.zeros((2, 32, 32, 1), "float32"), "16x16 pixels"),
        (np.zeros((2, 16, 16, 3), "float32"), r"1 channel\(s\).*rgb_to_grayscale"),
        (np.zeros((2, 16, 16, 1), "uint8"), "x.astype\\('float32'\\) / 127.5 - 1"),
    ],
)
def test_bad_input_shapes_and_dtypes_get_clear_errors(bad, message):
    model = tiny()
    with pytest.raises(ValueError, match=message):
        model.predict(bad, verbose=0)
    with pytest.raises(ValueError, match=message):
        model(bad)


@pytest.mark.parametrize(
    "value,message", [(255.0, r"scaled to \[-1, 1\]"), (np.nan, "NaN"), (np.inf, "NaN or infinite")]
)
def test_bad_values_get_clear_errors_in_scoring_and_training(value, message):
    model = tiny()
    model.compile(jit_compile=False)
    x = np.zeros((4, 16, 16, 1), "float32")
    x[1, 3, 3, 0] = value
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        model.predict(x, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        model.fit(x, epochs=1, batch_size=4, verbose=0)
