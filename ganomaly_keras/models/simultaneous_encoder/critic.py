"""A WGAN-GP critic shaped like the DCGAN encoder, without BatchNorm.

The gradient penalty of WGAN-GP is taken per sample, which batch statistics would mix
up; hence no BatchNorm: conv 4x4 stride 2 + LeakyReLU(0.2) until 4x4, then a 4x4
valid convolution to one unbounded score per image.
"""

import keras

from ganomaly_keras.networks import layers as L


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class Critic(keras.Model):
    """x -> critic score `(batch,)`, higher = more like the training images.

    Args:
        image_size: int, a power of two >= 16.
        channels: int, image channels.
        width: int, channels of the first convolution (doubled at every halving).

    Example:
    ```python
    critic = Critic(image_size=32, channels=1)
    scores = critic(keras.ops.zeros((8, 32, 32, 1)))  # shape (8,)
    ```
    """

    def __init__(self, image_size=32, channels=3, width=64, **kwargs):
        super().__init__(**kwargs)
        self.image_size = L.validate_image_size(image_size)
        self.channels = L.validate_positive_int("channels", channels)
        self.width = L.validate_positive_int("width", width)
        blocks, size, filters = [], self.image_size, width
        while size > 4:
            blocks += [
                L.conv(filters, 4, 2, "same", name=f"conv_{filters}"),
                keras.layers.LeakyReLU(0.2, name=f"relu_{filters}"),
            ]
            size //= 2
            filters *= 2
        blocks.append(L.conv(1, 4, 1, "valid", name="score_conv"))
        self.blocks = blocks

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.blocks:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, x, training=False):
        """Run the critic.

        Args:
            x: float images in [-1, 1], shape `(batch, image_size, image_size, channels)`.
            training: accepted for Keras' sake; the critic has no BatchNorm.

        Returns:
            the critic's values, shape `(batch,)` (unbounded: a WGAN critic).
        """
        for layer in self.blocks:
            x = layer(x, training=training)
        return keras.ops.reshape(x, (-1,))

    def get_config(self):
        config = super().get_config()
        config.update(image_size=self.image_size, channels=self.channels, width=self.width)
        return config
