"""The DCGAN decoder of GANomaly (G_D)."""

import keras

from ganomaly_keras.networks import layers as L
from ganomaly_keras.networks.base import DCGANNetwork
from ganomaly_keras.networks.pixel_normalization import PixelNormalization


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class Decoder(DCGANNetwork):
    """DCGAN decoder: a 1 x 1 x `latent_size` code to an s x s x c image in [-1, 1].

    Layout of the reference GANomaly code, the encoder's mirror: a 4x4 valid transposed
    convolution from the code to a 4x4 map with `width * s / 8` channels + BatchNorm +
    ReLU; 4x4 stride-2 transposed convolutions + BatchNorm + ReLU halving the channels
    until s/2; `extra_layers` 3x3 conv blocks; a final 4x4 stride-2 transposed
    convolution to `channels` and tanh. No convolution has a bias.

    Args:
        image_size: int, side of the square output, a power of two >= 16.
        channels: int, channels of the output image.
        latent_size: int, channels of the input code.
        width: int, channels before the final transposed convolution (ngf).
        extra_layers: int, number of extra 3x3 conv blocks at the last scale.
        sync_batchnorm: bool, synchronise BatchNorm statistics across replicas.
        normalize_latents: bool, pixel-normalise the input code first (Berg et al.'s
            generator), so that the output does not depend on the code's norm.

    Example:
    ```python
    decoder = Decoder(image_size=32, channels=1)
    x_hat = decoder(keras.ops.zeros((8, 1, 1, 100)))  # shape (8, 32, 32, 1)
    ```
    """

    def __init__(self, *args, normalize_latents=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.normalize_latents = bool(normalize_latents)
        width, sync_batchnorm = self.width, self.sync_batchnorm
        filters = width * self.image_size // 8
        blocks = [PixelNormalization(name="latent_pixel_norm")] if self.normalize_latents else []
        blocks += [
            L.conv_transpose(filters, 4, 1, "valid", name="initial_convt"),
            L.batch_norm("initial_bn", sync_batchnorm),
            keras.layers.ReLU(name="initial_relu"),
        ]
        size = 4
        while size < self.image_size // 2:
            filters //= 2
            size *= 2
            blocks += [
                L.conv_transpose(filters, 4, 2, "same", name=f"pyramid_{filters}_convt"),
                L.batch_norm(f"pyramid_{filters}_bn", sync_batchnorm),
                keras.layers.ReLU(name=f"pyramid_{filters}_relu"),
            ]
        for i in range(self.extra_layers):
            blocks += [
                L.conv(filters, 3, 1, "same", name=f"extra_{i}_conv"),
                L.batch_norm(f"extra_{i}_bn", sync_batchnorm),
                keras.layers.ReLU(name=f"extra_{i}_relu"),
            ]
        blocks += [
            L.conv_transpose(self.channels, 4, 2, "same", name="final_convt"),
            keras.layers.Activation("tanh", name="final_tanh"),
        ]
        self.blocks = blocks

    def build(self, input_shape):
        self.build_blocks(self.blocks, input_shape)
        self.built = True

    def call(self, z, training=False):
        """Run the network.

        Args:
            z: codes, shape `(batch, 1, 1, latent_size)`.
            training: bool, BatchNorm in training mode (batch statistics) when true.

        Returns:
            images in [-1, 1], shape `(batch, image_size, image_size, channels)`.
        """
        return self.run_blocks(self.blocks, z, training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.image_size, self.image_size, self.channels)

    def get_config(self):
        return {**super().get_config(), "normalize_latents": self.normalize_latents}
