"""The DCGAN discriminator of GANomaly (D)."""

import keras

from ganomaly_keras.networks import layers as L
from ganomaly_keras.networks.encoder import Encoder


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class Discriminator(keras.Model):
    """The encoder with one output channel: tells real images from reconstructions.

    `call` returns `(logits, features)`: `logits` has shape `(batch,)` (apply a
    sigmoid for the probability that the image is real), `features` is the last 4x4
    map before the final convolution (256 x 4 x 4 at size 32 and width 64), which the
    generator's feature-matching loss compares. Logits rather than probabilities keep
    the cross-entropy numerically stable; the mathematics is the reference's.

    Args:
        image_size: int, side of the square input, a power of two >= 16.
        channels: int, channels of the input image.
        width: int, channels after the first convolution (ndf).
        extra_layers: int, number of extra 3x3 conv blocks at the first scale.
        sync_batchnorm: bool, synchronise BatchNorm statistics across replicas.
        seed: optional int, seeds the draws of `reinitialize`.

    Example:
    ```python
    discriminator = Discriminator(image_size=32, channels=1)
    logits, features = discriminator(keras.ops.zeros((8, 32, 32, 1)))
    ```
    """

    def __init__(
        self,
        image_size=32,
        channels=3,
        width=64,
        extra_layers=0,
        sync_batchnorm=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.body = Encoder(
            image_size=image_size,
            channels=channels,
            latent_size=1,
            width=width,
            extra_layers=extra_layers,
            sync_batchnorm=sync_batchnorm,
            name="body",
        )
        self.seed = seed
        self.reinit_seed_generator = keras.random.SeedGenerator(seed, name="reinit_seed")

    def build(self, input_shape):
        self.body.build(input_shape)
        self.built = True

    def call(self, x, training=False):
        """Run the network.

        Args:
            x: float images in [-1, 1], shape `(batch, image_size, image_size, channels)`.
            training: bool, BatchNorm in training mode (batch statistics) when true.

        Returns:
            `(logits, features)`: shape `(batch,)` and the last 4x4 map
            before the final convolution.
        """
        features = self.body.features(x, training=training)
        logits = self.body.final_conv(features)
        return keras.ops.reshape(logits, (-1,)), features

    def reinitialize(self, condition=True):
        """Redraw every weight and moving statistic from the reference initialisation.

        Args:
            condition: bool or boolean scalar tensor; where false nothing changes.
        """
        L.reinitialize_layers(
            self.body.feature_blocks + [self.body.final_conv],
            self.reinit_seed_generator,
            condition,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.body.image_size,
            channels=self.body.channels,
            width=self.body.width,
            extra_layers=self.body.extra_layers,
            sync_batchnorm=self.body.sync_batchnorm,
            seed=self.seed,
        )
        return config
