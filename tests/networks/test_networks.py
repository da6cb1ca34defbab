"""The shared networks: the reference architecture's parameter counts and shapes,
initialisation, and clear errors for bad sizes."""

import keras
import numpy as np
import pytest

from ganomaly_keras import Decoder, Discriminator, Encoder, GANomaly, Generator


def count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


# docs/design.md section 1: trainable parameters at nz 100, width 64, no extra layers.
PARAMETER_TABLE = [
    # size, channels, G_E, G_D, G total, D total
    (32, 1, 1_066_752, 1_066_880, 3_200_384, 661_248),
    (32, 3, 1_068_800, 1_068_928, 3_206_528, 663_296),
    (64, 3, 3_576_576, 3_576_704, 10_729_856, 2_765_568),
    (128, 3, 12_786_432, 12_786_560, 38_359_424, 11_164_416),
]


@pytest.mark.parametrize("size,channels,g_e,g_d,g_total,d_total", PARAMETER_TABLE)
def test_parameter_counts_match_design(size, channels, g_e, g_d, g_total, d_total):
    model = GANomaly(image_size=size, channels=channels)
    generator = model.generator
    assert count(generator.encoder.trainable_variables) == g_e
    assert count(generator.decoder.trainable_variables) == g_d
    assert count(generator.latent_encoder.trainable_variables) == g_e
    assert count(generator.trainable_variables) == g_total
    assert count(model.discriminator.trainable_variables) == d_total


@pytest.mark.parametrize("size", [0, 8, 15, 24, 33, 48, 100, -32, 32.5, "32", True])
def test_bad_image_size_names_the_allowed_sizes(size):
    with pytest.raises(ValueError, match=r"power of two >= 16 \(16, 32, 64"):
        GANomaly(image_size=size, channels=1)


@pytest.mark.parametrize("name,value", [("channels", 0), ("latent_size", 0), ("width", -1), ("extra_layers", -1)])
def test_bad_network_arguments(name, value):
    with pytest.raises(ValueError, match=name):
        Generator(**{"image_size": 16, "channels": 1, name: value})


@pytest.mark.parametrize("size,channels", [(16, 1), (32, 3), (64, 2)])
def test_shapes(size, channels):
    x = np.zeros((2, size, size, channels), "float32")
    generator = Generator(image_size=size, channels=channels, latent_size=7, width=8)
    x_hat, z, z_hat = generator(x)
    assert x_hat.shape == x.shape
    assert z.shape == z_hat.shape == (2, 7)
    logits, features = Discriminator(image_size=size, channels=channels, width=8)(x)
    assert logits.shape == (2,)
    assert features.shape == (2, 4, 4, 8 * size // 8)


def test_discriminator_features_are_the_last_4x4_map():
    _, features = Discriminator(image_size=32, channels=1)(np.zeros((1, 32, 32, 1)))
    assert features.shape == (1, 4, 4, 256)


def test_no_biases_and_batchnorm_where_the_reference_has_it():
    encoder = Encoder(image_size=32, channels=1)
    convs = [l for l in encoder.feature_blocks if isinstance(l, keras.layers.Conv2D)]
    norms = [l for l in encoder.feature_blocks if isinstance(l, keras.layers.BatchNormalization)]
    assert all(not conv.use_bias for conv in convs + [encoder.final_conv])
    # The first convolution has no BatchNorm: 3 convolutions, 2 BatchNorms.
    assert len(convs) == 3 and len(norms) == 2
    assert isinstance(encoder.feature_blocks[1], keras.layers.LeakyReLU)


def test_extra_layers_add_3x3_blocks():
    plain = Generator(image_size=16, channels=1, width=8)
    extra = Generator(image_size=16, channels=1, width=8, extra_layers=2)
    plain.build((None, 16, 16, 1))
    extra.build((None, 16, 16, 1))
    # Each 3x3 block: width*width*9 kernel + 2*width BatchNorm, in 3 networks.
    enc_block = 8 * 8 * 9 + 16
    dec_block = 8 * 8 * 9 + 16  # the decoder's last scale has `width` channels too
    added = count(extra.trainable_variables) - count(plain.trainable_variables)
    assert added == 2 * (2 * enc_block + dec_block)


def test_reference_initialisation():
    model = GANomaly(image_size=64, channels=3)
    kernels = np.concatenate(
        [v.numpy().ravel() for v in model.trainable_variables if "kernel" in v.path]
    )
    gammas = np.concatenate(
        [v.numpy().ravel() for v in model.trainable_variables if "gamma" in v.path]
    )
    betas = np.concatenate(
        [v.numpy().ravel() for v in model.trainable_variables if "beta" in v.path]
    )
    assert abs(kernels.mean()) < 1e-3 and abs(kernels.std() - 0.02) < 1e-3
    assert abs(gammas.mean() - 1.0) < 5e-3 and abs(gammas.std() - 0.02) < 5e-3
    assert np.all(betas == 0)


def test_decoder_output_is_in_tanh_range():
    x_hat = Decoder(image_size=16, channels=3, latent_size=5, width=8)(
        np.random.default_rng(0).normal(size=(4, 1, 1, 5)) * 100
    )
    assert np.all(np.abs(np.asarray(x_hat)) <= 1.0)

