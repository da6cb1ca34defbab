"""The U-Net generator of skip-GANomaly (Akcay et al., IJCNN 2019).

pix2pix's U-Net with log2(image_size) levels: each level halves the image with a 4x4
stride-2 convolution; the way back doubles it with a 4x4 stride-2 transposed
convolution whose input is the level below's output concatenated with this level's
encoder output (the skip connection). Channels: width, 2 width, 4 width, then 8 width
for every deeper level. The outermost level has no normalisation going down and a tanh
coming up; the innermost has none going down.
"""

import math

import keras

from ganomaly_keras.networks import layers as L


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class UNetGenerator(keras.Model):
    """x -> x_hat through a U-Net with skip connections at every level.

    Args:
        image_size: int, a power of two >= 16.
        channels: int, image channels.
        width: int, channels of the outermost level (64 in skip-GANomaly).
        sync_batchnorm: bool, synchronise BatchNorm across replicas.

    Example:
    ```python
    generator = UNetGenerator(image_size=32, channels=1)
    x_hat = generator(keras.ops.zeros((8, 32, 32, 1)))  # shape (8, 32, 32, 1)
    ```
    """

    def __init__(self, image_size=32, channels=3, width=64, sync_batchnorm=False, **kwargs):
        super().__init__(**kwargs)
        self.image_size = L.validate_image_size(image_size)
        self.channels = L.validate_positive_int("channels", channels)
        self.width = L.validate_positive_int("width", width)
        self.sync_batchnorm = bool(sync_batchnorm)
        levels = int(math.log2(self.image_size))
        level_channels = [width * min(2**i, 8) for i in range(levels)]
        self.down_blocks, self.up_blocks = [], []
        for i, inner in enumerate(level_channels):
            outer = self.channels if i == 0 else level_channels[i - 1]
            outermost, innermost = i == 0, i == levels - 1
            down = [] if outermost else [keras.layers.LeakyReLU(0.2, name=f"down_{i}_relu")]
            down.append(L.conv(inner, 4, 2, "same", name=f"down_{i}_conv"))
            if not (outermost or innermost):
                down.append(L.batch_norm(f"down_{i}_bn", sync_batchnorm))
            up = [keras.layers.ReLU(name=f"up_{i}_relu")]
            if outermost:
                up += [
                    keras.layers.Conv2DTranspose(
                        outer, 4, strides=2, padding="same",
                        kernel_initializer=L.kernel_initializer(), name=f"up_{i}_convt",
                    ),
                    keras.layers.Activation("tanh", name="tanh"),
                ]
            else:
                up += [
                    L.conv_transpose(outer, 4, 2, "same", name=f"up_{i}_convt"),
                    L.batch_norm(f"up_{i}_bn", sync_batchnorm),
                ]
            self.down_blocks.append(down)
            self.up_blocks.append(up)
        self.concatenate = keras.layers.Concatenate(axis=-1)

    def build(self, input_shape):
        shape = tuple(input_shape)
        skips = []
        for block in self.down_blocks:
            for layer in block:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            skips.append(shape)
        for i in reversed(range(len(self.up_blocks))):
            for layer in self.up_blocks[i]:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            if i > 0:
                shape = tuple(shape[:-1]) + (shape[-1] + skips[i - 1][-1],)
        self.built = True

    def call(self, x, training=False):
        """Run the network.

        Args:
            x: float images in [-1, 1], shape `(batch, image_size, image_size, channels)`.
            training: bool, BatchNorm in training mode (batch statistics) when true.

        Returns:
            the reconstruction, the same shape as `x`, in [-1, 1].
        """
        skips = []
        for block in self.down_blocks:
            for layer in block:
                x = layer(x, training=training)
            skips.append(x)
        for i in reversed(range(len(self.up_blocks))):
            for layer in self.up_blocks[i]:
                x = layer(x, training=training)
            if i > 0:
                x = self.concatenate([skips[i - 1], x])
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.channels,)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            channels=self.channels,
            width=self.width,
            sync_batchnorm=self.sync_batchnorm,
        )
        return config
