"""What every member of the family owes its users, checked the same way for each
(`detector_test_case.run_detector_test`): parameter shapes, training on real digits,
config and `.keras` round trips, scores independent of the batch, and export to
SavedModel and TFLite with parity."""

from collections import Counter

import keras
import numpy as np
import pytest
import settings
from detector_test_case import run_detector_test

from ganomaly_keras import EGBAD, AnoGAN, GANomaly, SimultaneousEncoderGAN, SkipGANomaly
from ganomaly_keras.deploy.export import export_model

# Every model at 16x16x1, width 8, nz 8: small enough to train and convert in seconds.
COMMON = {**settings.TINY_MODEL, "seed": 0}
FAMILY = {
    "GANomaly": (GANomaly, {}),
    "SkipGANomaly": (SkipGANomaly, {}),
    "SimultaneousEncoderGAN": (SimultaneousEncoderGAN, {"critic_steps": 2}),
    "EGBAD": (EGBAD, {"joint_units": 16}),
    "AnoGAN": (AnoGAN, {"search_steps": 10}),
}
LOSSES = {
    "GANomaly": ("g_loss", "g_adv", "g_con", "g_enc", "d_loss", "d_reinit"),
    "SkipGANomaly": ("g_loss", "g_adv", "g_con", "g_lat", "d_loss", "d_reinit"),
    "SimultaneousEncoderGAN": ("g_loss", "e_loss", "d_loss", "d_gp"),
    "EGBAD": ("g_loss", "d_loss"),
    "AnoGAN": ("g_loss", "d_loss"),
}

# Trainable variable shapes at that size, written out from the architectures
# (Conv2D kernels are (h, w, in, out), Conv2DTranspose kernels (h, w, out, in);
# BatchNorm contributes gamma and beta).
BN = lambda c: [(c,), (c,)]  # noqa: E731
# DCGAN encoder: 4x4/2 conv 1->8 without BN, 4x4/2 conv 8->16 + BN (now 4x4),
# 4x4 valid conv 16->nz.
ENCODER = [(4, 4, 1, 8), (4, 4, 8, 16), *BN(16), (4, 4, 16, 8)]
# DCGAN decoder: 4x4 valid convT nz->16 + BN, 4x4/2 convT 16->8 + BN, 4x4/2 convT 8->1.
DECODER = [(4, 4, 16, 8), *BN(16), (4, 4, 8, 16), *BN(8), (4, 4, 1, 8)]
# DCGAN discriminator: the encoder's feature layers, then a 4x4 valid conv to 1 logit.
DISCRIMINATOR = [(4, 4, 1, 8), (4, 4, 8, 16), *BN(16), (4, 4, 16, 1)]
# U-Net with log2(16) = 4 levels of 8, 16, 32, 64 channels; BN on the middle levels
# going down and on all but the outermost coming up; up-convolutions above the
# innermost take the skip concatenation (twice the channels); the outermost has a bias.
UNET = [
    (4, 4, 1, 8), (4, 4, 8, 16), *BN(16), (4, 4, 16, 32), *BN(32), (4, 4, 32, 64),
    (4, 4, 32, 64), *BN(32), (4, 4, 16, 64), *BN(16), (4, 4, 8, 32), *BN(8),
    (4, 4, 1, 16), (1,),
]
EXPECTED_SHAPES = {
    "GANomaly": {"generator": ENCODER + DECODER + ENCODER, "discriminator": DISCRIMINATOR},
    # skip-GANomaly's D is the DCGAN encoder to nz features, then a 3x3 conv to 1 logit.
    "SkipGANomaly": {"generator": UNET, "discriminator": ENCODER + [(3, 3, 8, 1)]},
    # WGAN-GP critic: no BN, 4x4/2 convs 1->8->16, then 4x4 valid conv to 1 score.
    "SimultaneousEncoderGAN": {
        "generator": DECODER,
        "encoder": ENCODER,
        "discriminator": [(4, 4, 1, 8), (4, 4, 8, 16), (4, 4, 16, 1)],
    },
    # BiGAN discriminator: image path to a 4x4x16 map (256 values), z path Dense
    # nz->16, joint Dense (256 + 16)->16, logit Dense 16->1.
    "EGBAD": {
        "generator": DECODER,
        "encoder": ENCODER,
        "discriminator": [
            (4, 4, 1, 8), (4, 4, 8, 16), *BN(16),
            (8, 16), (16,), (272, 16), (16,), (16, 1), (1,),
        ],
    },
    "AnoGAN": {"generator": DECODER, "discriminator": DISCRIMINATOR},
}


def build(name, **options):
    detector, extra = FAMILY[name]
    return detector(**{**COMMON, **extra, **options})


@pytest.fixture(scope="module")
def digit_images(digits16):
    """128 normal training images (digits 1-9) and 8 test images of each kind."""
    images, classes = digits16
    rng = np.random.default_rng(0)
    normal = images[rng.permutation(np.flatnonzero(classes != 0))]
    zeros = images[classes == 0]
    return normal[:128], np.concatenate([normal[128:136], zeros[:8]])


@pytest.mark.parametrize("name", FAMILY)
def test_parameter_shapes_follow_the_architecture(name):
    model = build(name)
    for network, shapes in EXPECTED_SHAPES[name].items():
        variables = getattr(model, network).trainable_variables
        assert Counter(tuple(v.shape) for v in variables) == Counter(shapes), network
    assert model.count_params() >= sum(
        int(np.prod(s)) for shapes in EXPECTED_SHAPES[name].values() for s in shapes
    )


@pytest.mark.parametrize("name", FAMILY)
def test_detector(name, digit_images, tmp_path):
    keras.utils.set_random_seed(0)
    model = build(name)
    model.compile(jit_compile=False)
    train, test = digit_images
    run_detector_test(model, train, test, tmp_path, losses=LOSSES[name])
    # Only the models with GANomaly's re-initialisation carry its metric.
    assert ("d_reinit" in [m.name for m in model.metrics]) == (name in ("GANomaly", "SkipGANomaly"))


def test_anogan_refuses_int8_with_the_reason(digit_images, tmp_path):
    model = build("AnoGAN")
    model.calibrate(digit_images[0][:64])
    with pytest.raises(ValueError, match="cannot be exported as tflite_int8: .*tflite_dynamic"):
        export_model(
            model, tmp_path / "e", formats=("tflite_int8",), representative_data=digit_images[0]
        )
    assert not (tmp_path / "e").exists()
