"""skip-GANomaly: its U-Net, losses and score, a held-out digit, and the checks every
family member owes."""

import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ganomaly_keras import SkipGANomaly, UNetGenerator
from ganomaly_keras.data import leave_one_class_out
from tests import settings
from tests.detector_test_case import DetectorTestCase


def tiny(**kwargs):
    return settings.tiny(SkipGANomaly, **kwargs)


images = settings.random_images


@pytest.mark.parametrize("size,levels", [(16, 4), (32, 5), (64, 6)])
def test_unet_has_log2_levels_with_skip_connections(size, levels):
    unet = UNetGenerator(image_size=size, channels=3, width=4)
    assert len(unet.down_blocks) == len(unet.up_blocks) == levels
    x = np.zeros((2, size, size, 3), "float32")
    assert unet(x).shape == (2, size, size, 3)
    # Up-convolutions above the innermost take the skip concatenation: twice the
    # channels of their level's encoder output.
    kernels = [block[1].kernel.shape for block in unet.up_blocks]
    assert kernels[-1][-1] == unet.down_blocks[-1][-1].filters  # innermost: no skip
    for i in range(levels - 1):
        assert kernels[i][-1] == 2 * unet.down_blocks[i][-2 if i else -1].filters


def test_unet_rejects_bad_sizes():
    with pytest.raises(ValueError, match="power of two"):
        UNetGenerator(image_size=24, channels=1)


def test_losses_are_the_documented_weighted_sum(rng):
    model = tiny(adversarial_weight=2.0, contextual_weight=10.0, latent_weight=3.0)
    model.compile(jit_compile=False)
    x = images(rng)
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert logs["g_loss"] == pytest.approx(
        2.0 * logs["g_adv"] + 10.0 * logs["g_con"] + 3.0 * logs["g_lat"], rel=1e-5
    )
    x_hat = np.asarray(model.generator(x, training=False))
    logit_fake, f_fake = (np.asarray(t, "float64") for t in model.discriminator(x_hat, training=False))
    _, f_real = (np.asarray(t, "float64") for t in model.discriminator(x, training=False))
    assert logs["g_con"] == pytest.approx(np.mean(np.abs(x - x_hat)), rel=1e-5)
    assert logs["g_lat"] == pytest.approx(np.mean((f_real - f_fake) ** 2), rel=1e-4)
    assert logs["g_adv"] == pytest.approx(np.mean(np.log1p(np.exp(-logit_fake))), rel=1e-4)


def test_the_discriminator_loss_may_narrow_the_feature_gap_as_the_official_code_does(rng):
    """samet-akcay/skip-ganomaly's D loss adds w_lat * L2(f(x_hat), f(x)); with the same
    weights, d_loss grows by exactly that weight times g_lat. The untrained feature gap
    is about 1e-6, so the weight is large enough to lift it above float32 rounding."""
    x = images(rng)
    logs, weights = [], None
    for weight in (0.0, 1e4):
        model = tiny(discriminator_latent_weight=weight)
        model.compile(jit_compile=False)
        if weights is not None:
            model.set_weights(weights)
        weights = model.get_weights()
        logs.append(model.evaluate(x, batch_size=16, verbose=0, return_dict=True))
    assert logs[0]["g_lat"] == pytest.approx(logs[1]["g_lat"], rel=1e-6) and logs[0]["g_lat"] > 0
    assert logs[1]["d_loss"] - logs[0]["d_loss"] == pytest.approx(1e4 * logs[0]["g_lat"], rel=1e-3)
    assert model.get_config()["discriminator_latent_weight"] == 1e4
    with pytest.raises(ValueError, match="discriminator_latent_weight"):
        tiny(discriminator_latent_weight=-1.0)


def test_score_is_weighted_reconstruction_plus_feature_error(rng):
    model = tiny(reconstruction_score_weight=0.7, feature_score_weight=0.3)
    x = images(rng, n=6)
    x_hat = np.asarray(model.generator(x, training=False))
    _, f_real = model.discriminator(x, training=False)
    _, f_fake = model.discriminator(x_hat, training=False)
    expected = 0.7 * np.mean((x - x_hat) ** 2, axis=(1, 2, 3)) + 0.3 * np.mean(
        (np.asarray(f_real) - np.asarray(f_fake)) ** 2, axis=-1
    )
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)
    assert model.score_definition.startswith("0.7 * (mean((x - G(x))^2)) + 0.3 * (")


def test_fit_trains_both_networks(rng):
    model = tiny()
    model.compile(jit_compile=False)
    g_before = [np.array(v) for v in model.generator.trainable_variables]
    d_before = [np.array(v) for v in model.discriminator.trainable_variables]
    history = model.fit(images(rng, n=32), epochs=2, batch_size=8, verbose=0)
    assert set(history.history) == {"g_loss", "g_adv", "g_con", "g_lat", "d_loss", "d_reinit"}
    assert any(not np.allclose(a, np.array(b)) for a, b in zip(g_before, model.generator.trainable_variables))
    assert any(not np.allclose(a, np.array(b)) for a, b in zip(d_before, model.discriminator.trainable_variables))


@pytest.mark.slow
def test_skip_ganomaly_detects_a_held_out_digit(digits16):
    images_, classes = digits16
    splits = leave_one_class_out(images_, classes, 0, validation_fraction=0.1, seed=0)
    keras.utils.set_random_seed(0)
    model = SkipGANomaly(image_size=16, channels=1, width=16, latent_size=32, seed=0)
    model.compile(jit_compile=False)
    model.fit(splits["train"].images, epochs=8, batch_size=64, verbose=0)
    test = splits["test"]
    auroc = roc_auc_score(test.labels, model.predict(test.images, verbose=0))
    # Measured 0.87 (16x16, width 16, nz 32, 8 epochs, seed 0); a broken model scores
    # about 0.5.
    assert auroc >= 0.75, auroc


class TestSkipGANomalyContract(DetectorTestCase):
    """The checks every family member owes (`tests.detector_test_case`)."""

    detector_class = SkipGANomaly
    init_kwargs = {}
    losses = ("g_loss", "g_adv", "g_con", "g_lat", "d_loss", "d_reinit")
    reinitialises_discriminator = True
