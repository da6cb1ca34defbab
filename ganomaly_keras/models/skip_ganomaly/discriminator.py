"""skip-GANomaly's discriminator: a DCGAN encoder to latent features, then a classifier.

As in skip-GANomaly's paper and code: the encoder of `ganomaly_keras.networks.Encoder` ends in an
`latent_size x 1 x 1` feature vector f(x); a 3x3 convolution (no bias) turns it into
the real/fake logit. f is what skip-GANomaly's latent loss and score compare.
"""

import keras

from ganomaly_keras.networks import layers as L
from ganomaly_keras.networks.encoder import Encoder


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class LatentDiscriminator(keras.Model):
    """x -> (logits `(batch,)`, features f(x) `(batch, latent_size)`).

    Args:
        image_size: int, a power of two >= 16.
        channels: int, image channels.
        latent_size: int, size of the feature vector f(x) (nz, 100).
        width: int, base channel count (64).
        extra_layers: int, extra 3x3 conv blocks.
        sync_batchnorm: bool, synchronise BatchNorm across replicas.
        seed: optional int, seeds re-initialisation draws.

    Example:
    ```python
    discriminator = LatentDiscriminator(image_size=32, channels=1)
    logits, features = discriminator(keras.ops.zeros((8, 32, 32, 1)))
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
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.body = Encoder(
            image_size=image_size,
            channels=channels,
            latent_size=latent_size,
            width=width,
            extra_layers=extra_layers,
            sync_batchnorm=sync_batchnorm,
            name="body",
        )
        self.classifier = L.conv(1, 3, 1, "same", name="classifier")
        self.seed = seed
        self.reinit_seed_generator = keras.random.SeedGenerator(seed, name="reinit_seed")

    def build(self, input_shape):
        self.body.build(input_shape)
        self.classifier.build((input_shape[0], 1, 1, self.body.latent_size))
        self.built = True

    def call(self, x, training=False):
        """Run the network.

        Args:
            x: float images in [-1, 1], shape `(batch, image_size, image_size, channels)`.
            training: bool, BatchNorm in training mode (batch statistics) when true.

        Returns:
            `(logits, features)`: shape `(batch,)` and the latent features f,
            shape `(batch, latent_size)`.
        """
        features = self.body(x, training=training)
        logits = self.classifier(features)
        latent_size = self.body.latent_size
        return (
            keras.ops.reshape(logits, (-1,)),
            keras.ops.reshape(features, (-1, latent_size)),
        )

    def reinitialize(self, condition=True):
        """Redraw every weight and moving statistic from the reference initialisation.

        Args:
            condition: bool or boolean scalar tensor; where false nothing changes.
        """
        L.reinitialize_layers(
            self.body.feature_blocks + [self.body.final_conv, self.classifier],
            self.reinit_seed_generator,
            condition,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.body.image_size,
            channels=self.body.channels,
            latent_size=self.body.latent_size,
            width=self.body.width,
            extra_layers=self.body.extra_layers,
            sync_batchnorm=self.body.sync_batchnorm,
            seed=self.seed,
        )
        return config
