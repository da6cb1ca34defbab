"""How much arithmetic a training image costs, and how much this machine can do: the
FLOPs of GANomaly's convolutions counted from the layers' shapes, and the float32
matrix-multiply peak."""

import time

import keras
import numpy as np
import tensorflow as tf


def _conv_flops(blocks, shape):
    """Forward FLOPs (2 per multiply-add) of the Conv2D/Conv2DTranspose layers in
    `blocks` run in order from `shape`; returns (flops, output shape)."""
    flops = 0
    for layer in blocks:
        output = layer.compute_output_shape(shape)
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw, _, _ = layer.kernel.shape  # (kh, kw, filters, in_channels)
            flops += 2 * shape[1] * shape[2] * kh * kw * shape[3] * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, _, _ = layer.kernel.shape
            flops += 2 * output[1] * output[2] * kh * kw * shape[3] * layer.filters
        shape = output
    return flops, shape


def _encoder_flops(encoder, shape):
    return _conv_flops(list(encoder.feature_blocks) + [encoder.final_conv], shape)


def training_flops_per_image(model):
    """FLOPs of one training image for a GANomaly model, from its layer shapes.

    Returns:
        dict: forward FLOPs of the generator and discriminator, and the training
        total `3 * (G + 2 * D)`.
    """
    shape = (1,) + model.image_shape
    encoder, coded = _encoder_flops(model.generator.encoder, shape)
    decoder, image = _conv_flops(model.generator.decoder.blocks, coded)
    latent, _ = _encoder_flops(model.generator.latent_encoder, image)
    discriminator, _ = _encoder_flops(model.discriminator.body, shape)
    generator = encoder + decoder + latent
    return {
        "generator_forward": generator,
        "discriminator_forward": discriminator,
        "training": 3 * (generator + 2 * discriminator),
    }


def matmul_peak_gflops(size=2048, repeats=10):
    """This machine's float32 matrix-multiply throughput (GFLOP/s), best of runs."""
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    multiply = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    multiply().numpy()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        multiply().numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9
