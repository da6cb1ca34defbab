"""The DCGAN encoder of GANomaly (G_E and E), also the body of its discriminator."""

import keras

from ganomaly_keras.networks import layers as L
from ganomaly_keras.networks.base import DCGANNetwork


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class Encoder(DCGANNetwork):
    """DCGAN encoder: an image of size s x s x c to a 1 x 1 x `latent_size` code.

    Layout of the reference GANomaly code: a 4x4 stride-2 convolution to `width` channels with
    LeakyReLU(0.2) and no BatchNorm; `extra_layers` 3x3 stride-1 conv + BatchNorm +
    LeakyReLU blocks; then 4x4 stride-2 conv + BatchNorm + LeakyReLU, doubling the
    channels, until the map is 4x4; then a 4x4 valid convolution to `latent_size`
    channels with no activation. No convolution has a bias.

    Args:
        image_size: int, side of the square input, a power of two >= 16.
        channels: int, channels of the input image.
        latent_size: int, channels of the output code (nz; 100 in the paper).
        width: int, channels after the first convolution (ndf; 64 in the paper).
        extra_layers: int, number of extra 3x3 conv blocks at the first scale.
        sync_batchnorm: bool, synchronise BatchNorm statistics across replicas
            under a `tf.distribute` strategy.

    Example:
    ```python
    encoder = Encoder(image_size=32, channels=1)
    z = encoder(keras.ops.zeros((8, 32, 32, 1)))  # shape (8, 1, 1, 100)
    ```
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.feature_blocks, self.feature_channels = L.dcgan_feature_blocks(
            self.image_size, self.width, self.extra_layers, self.sync_batchnorm
        )
        self.final_conv = L.conv(self.latent_size, 4, 1, "valid", name="final_conv")

    def build(self, input_shape):
        self.final_conv.build(self.build_blocks(self.feature_blocks, input_shape))
        self.built = True

    def features(self, x, training=False):
        """The last 4x4 map before the final convolution.

        Args:
            x: float images in [-1, 1], shape `(batch, image_size, image_size, channels)`.
            training: bool, BatchNorm in training mode when true.

        Returns:
            the feature map, shape `(batch, 4, 4, feature_channels)`.
        """
        return self.run_blocks(self.feature_blocks, x, training)

    def call(self, x, training=False):
        """Run the network.

        Args:
            x: float images in [-1, 1], shape `(batch, image_size, image_size, channels)`.
            training: bool, BatchNorm in training mode (batch statistics) when true.

        Returns:
            the codes, shape `(batch, 1, 1, latent_size)`.
        """
        return self.final_conv(self.features(x, training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, self.latent_size)
