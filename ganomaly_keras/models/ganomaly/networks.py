"""The GANomaly generator: encoder, decoder and a second encoder (G_E, G_D, E)."""

import keras

from ganomaly_keras.networks.decoder import Decoder
from ganomaly_keras.networks.encoder import Encoder


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class Generator(keras.Model):
    """`x -> z = G_E(x) -> x_hat = G_D(z) -> z_hat = E(x_hat)`.

    `call` returns `(x_hat, z, z_hat)`; the codes have shape `(batch, latent_size)`.
    E has its own weights (it is not G_E reused).

    Args:
        image_size: int, side of the square images, a power of two >= 16.
        channels: int, image channels.
        latent_size: int, size of the codes z and z_hat (nz).
        width: int, base channel count of the three networks (ngf = ndf).
        extra_layers: int, extra 3x3 conv blocks in each network.
        sync_batchnorm: bool, synchronise BatchNorm statistics across replicas.

    Example:
    ```python
    generator = Generator(image_size=32, channels=1)
    x_hat, z, z_hat = generator(keras.ops.zeros((8, 32, 32, 1)))
    ```
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
        shape = dict(
            image_size=image_size,
            channels=channels,
            latent_size=latent_size,
            width=width,
            extra_layers=extra_layers,
            sync_batchnorm=sync_batchnorm,
        )
        self.encoder = Encoder(**shape, name="encoder")
        self.decoder = Decoder(**shape, name="decoder")
        self.latent_encoder = Encoder(**shape, name="latent_encoder")
        self._shape_config = shape

    def build(self, input_shape):
        self.encoder.build(input_shape)
        self.decoder.build((input_shape[0], 1, 1, self.encoder.latent_size))
        self.latent_encoder.build(input_shape)
        self.built = True

    def call(self, x, training=False):
        """Run the network.

        Args:
            x: float images in [-1, 1], shape `(batch, image_size, image_size, channels)`.
            training: bool, BatchNorm in training mode (batch statistics) when true.

        Returns:
            `(x_hat, z, z_hat)`: the reconstruction G_D(G_E(x)), and the codes
            G_E(x) and E(x_hat), each of shape `(batch, latent_size)`.
        """
        z = self.encoder(x, training=training)
        x_hat = self.decoder(z, training=training)
        z_hat = self.latent_encoder(x_hat, training=training)
        latent_size = self.encoder.latent_size
        return (
            x_hat,
            keras.ops.reshape(z, (-1, latent_size)),
            keras.ops.reshape(z_hat, (-1, latent_size)),
        )

    def get_config(self):
        config = super().get_config()
        config.update(self._shape_config)
        return config
