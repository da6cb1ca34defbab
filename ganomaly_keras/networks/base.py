"""What the encoder and decoder share: their validated shape arguments and config."""

import keras

from ganomaly_keras.networks import layers as L


class DCGANNetwork(keras.Model):
    """A stack of layers run in order, described by the reference's shape arguments.

    Subclasses fill `self.blocks` in `__init__`. Arguments are validated here, so every
    network rejects a bad size with the same message.
    """

    def __init__(
        self,
        image_size=32,
        channels=3,
        latent_size=100,
        width=64,
        extra_layers=0,
        sync_batchnorm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size = L.validate_image_size(image_size)
        self.channels = L.validate_positive_int("channels", channels)
        self.latent_size = L.validate_positive_int("latent_size", latent_size)
        self.width = L.validate_positive_int("width", width)
        self.extra_layers = L.validate_positive_int("extra_layers", extra_layers, 0)
        self.sync_batchnorm = bool(sync_batchnorm)

    def build_blocks(self, blocks, input_shape):
        """Build `blocks` in order.

        Args:
            blocks: layers, each applied to the output of the one before.
            input_shape: the shape the first layer receives.

        Returns:
            the shape the last layer returns.
        """
        shape = tuple(input_shape)
        for layer in blocks:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        return shape

    @staticmethod
    def run_blocks(blocks, x, training):
        """`x` through `blocks` in order.

        Args:
            blocks: layers, each applied to the output of the one before.
            x: the first layer's input.
            training: passed to every layer.

        Returns:
            the last layer's output.
        """
        for layer in blocks:
            x = layer(x, training=training)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            channels=self.channels,
            latent_size=self.latent_size,
            width=self.width,
            extra_layers=self.extra_layers,
            sync_batchnorm=self.sync_batchnorm,
        )
        return config
