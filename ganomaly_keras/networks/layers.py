"""Building blocks shared by the DCGAN encoder, decoder and discriminator.

The reference network (the official GANomaly code's DCGAN) uses 4x4 convolutions without biases,
BatchNorm with PyTorch's defaults (momentum 0.1, i.e. Keras momentum 0.9, and epsilon
1e-5), kernels drawn from N(0, 0.02) and BatchNorm gamma from N(1, 0.02).
"""


import keras

from ganomaly_keras import arguments
from ganomaly_keras.arguments import validate_image_size  # noqa: F401 (re-exported)
from ganomaly_keras.networks.fused_batch_norm import FusedBatchNormalization

KERNEL_STDDEV = 0.02
BATCHNORM_MOMENTUM = 0.9  # PyTorch's momentum=0.1 in Keras' convention.
BATCHNORM_EPSILON = 1e-5  # PyTorch's default.


def validate_positive_int(name, value, minimum=1):
    return arguments.integer(name, value, minimum=minimum)


def kernel_initializer(seed=None):
    return keras.initializers.RandomNormal(mean=0.0, stddev=KERNEL_STDDEV, seed=seed)


def conv(filters, kernel_size, strides, padding, name):
    """A bias-free Conv2D with the reference initialisation."""
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer=kernel_initializer(),
        name=name,
    )


def conv_transpose(filters, kernel_size, strides, padding, name):
    """A bias-free Conv2DTranspose with the reference initialisation."""
    return keras.layers.Conv2DTranspose(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer=kernel_initializer(),
        name=name,
    )


def batch_norm(name, synchronized=False):
    """BatchNorm with PyTorch's defaults and the reference gamma/beta init.

    `synchronized=True` computes batch statistics across replicas under a
    `tf.distribute` strategy, so distributed training matches single-device
    training; outside a strategy it behaves like plain BatchNorm. Training steps
    use TensorFlow's fused kernel (`FusedBatchNormalization`); unsynchronised only.
    """
    return FusedBatchNormalization(
        momentum=BATCHNORM_MOMENTUM,
        epsilon=BATCHNORM_EPSILON,
        gamma_initializer=keras.initializers.RandomNormal(1.0, KERNEL_STDDEV),
        beta_initializer="zeros",
        synchronized=synchronized,
        name=name,
    )


def reinitialize_layers(layers, seed_generator, condition=True):
    """Draw fresh reference-initialised weights for `layers` where `condition` holds.

    Used when the discriminator collapses (its loss below 1e-5 in the reference). Fresh values
    come from `seed_generator`, so a re-initialisation never repeats the first one.
    With `condition=True` (the Python value) every variable is overwritten. With a
    boolean tensor every variable is assigned `where(condition, fresh, current)`:
    fresh values are drawn whatever the condition. That form has no control flow,
    which `tf.distribute` needs (a variable update inside `tf.cond` in a replica
    context cannot synchronise the replicas); outside a multi-replica strategy the
    caller can put the `condition=True` form inside `tf.cond` instead, so that
    nothing is drawn on the steps that keep the weights
    (`models.discriminator_reset.DiscriminatorReset`).
    """

    def refill(variable, fresh):
        if condition is True:
            variable.assign(fresh)
        else:
            variable.assign(keras.ops.where(condition, fresh, variable))

    def normal(variable, mean):
        return keras.random.normal(
            variable.shape, mean, KERNEL_STDDEV, dtype=variable.dtype, seed=seed_generator
        )

    for layer in layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            refill(layer.kernel, normal(layer.kernel, 0.0))
        elif isinstance(layer, keras.layers.BatchNormalization):
            refill(layer.gamma, normal(layer.gamma, 1.0))
            refill(layer.beta, keras.ops.zeros_like(layer.beta))
            refill(layer.moving_mean, keras.ops.zeros_like(layer.moving_mean))
            refill(layer.moving_variance, keras.ops.ones_like(layer.moving_variance))


def dcgan_feature_blocks(image_size, width, extra_layers=0, sync_batchnorm=False):
    """The DCGAN encoder's layers from the image down to its 4x4 feature map.

    Conv 4x4 stride 2 (-> width) + LeakyReLU(0.2) without BatchNorm; `extra_layers`
    3x3 conv + BatchNorm + LeakyReLU blocks; then conv 4x4 stride 2 doubling the
    channels + BatchNorm + LeakyReLU until the map is 4x4 (the reference DCGAN encoder).

    Returns:
        `(layers, channels of the 4x4 map)`.
    """
    blocks = [
        conv(width, 4, 2, "same", name="initial_conv"),
        keras.layers.LeakyReLU(0.2, name="initial_relu"),
    ]
    size, filters = image_size // 2, width
    for i in range(extra_layers):
        blocks += [
            conv(filters, 3, 1, "same", name=f"extra_{i}_conv"),
            batch_norm(f"extra_{i}_bn", sync_batchnorm),
            keras.layers.LeakyReLU(0.2, name=f"extra_{i}_relu"),
        ]
    while size > 4:
        filters *= 2
        size //= 2
        blocks += [
            conv(filters, 4, 2, "same", name=f"pyramid_{filters}_conv"),
            batch_norm(f"pyramid_{filters}_bn", sync_batchnorm),
            keras.layers.LeakyReLU(0.2, name=f"pyramid_{filters}_relu"),
        ]
    return blocks, filters
