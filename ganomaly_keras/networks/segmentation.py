"""The segmentation head: where in an image the defect is, from the image and its
reconstruction (DRAEM's discriminative network, Zavrtanik et al., ICCV 2021, at a size
a CPU trains in minutes).

A small U-Net reads the image and the detector's reconstruction side by side and
returns one logit per pixel. It is trained on synthetic defects
(`ganomaly_keras.data.synthetic_defects`), whose masks say where to answer "defect";
it learns what a difference between an image and its reconstruction looks like when
it is a defect and when it is texture, which a fixed residual cannot.
"""

import keras

from ganomaly_keras.networks import layers as L


def _block(filters, name, sync_batchnorm):
    return [
        keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                            kernel_initializer="he_normal", name=f"{name}_conv1"),
        L.batch_norm(f"{name}_bn1", sync_batchnorm),
        keras.layers.ReLU(name=f"{name}_relu1"),
        keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                            kernel_initializer="he_normal", name=f"{name}_conv2"),
        L.batch_norm(f"{name}_bn2", sync_batchnorm),
        keras.layers.ReLU(name=f"{name}_relu2"),
    ]


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class SegmentationHead(keras.Model):
    """A two-level U-Net from (image, reconstruction) to per-pixel defect logits.

    Args:
        image_size: int, the side of the images (the detector's `image_size`).
        channels: int, the images' channels.
        width: int, channels of the first level (doubled at each level down).
        sync_batchnorm: bool, synchronise BatchNorm across replicas.
        **kwargs: passed to `keras.Model`.

    Call it on `(x, x_hat)`, two float batches `(batch, size, size, channels)`;
    returns logits `(batch, size, size, 1)`.
    """

    def __init__(self, image_size=32, channels=3, width=16, sync_batchnorm=False, **kwargs):
        super().__init__(**kwargs)
        self.image_size = L.validate_image_size(image_size)
        self.channels = L.validate_positive_int("channels", channels)
        self.width = L.validate_positive_int("width", width)
        self.sync_batchnorm = bool(sync_batchnorm)
        w, sync = self.width, self.sync_batchnorm
        self.down1 = _block(w, "down1", sync)
        self.down2 = _block(2 * w, "down2", sync)
        self.bottom = _block(4 * w, "bottom", sync)
        self.up2 = keras.layers.Conv2DTranspose(2 * w, 2, strides=2, name="up2")
        self.merge2 = _block(2 * w, "merge2", sync)
        self.up1 = keras.layers.Conv2DTranspose(w, 2, strides=2, name="up1")
        self.merge1 = _block(w, "merge1", sync)
        self.pool = keras.layers.MaxPooling2D(2, name="pool")
        self.logits = keras.layers.Conv2D(1, 1, name="logits")

    def build(self, input_shape):
        """Build every layer for images of `input_shape` `(batch, size, size,
        channels)` (one image each)."""
        zeros = keras.ops.zeros((1,) + tuple(input_shape)[1:])
        self.call(zeros, zeros)
        self.built = True

    @staticmethod
    def _run(blocks, x, training):
        for layer in blocks:
            x = layer(x, training=training)
        return x

    def call(self, x, x_hat=None, training=False):
        """Per-pixel defect logits of images `x` and their reconstructions `x_hat`.

        Args:
            x: float images `(batch, size, size, channels)`, or the pair `(x, x_hat)`.
            x_hat: their reconstructions (when `x` is not a pair).
            training: BatchNorm in training mode when true.

        Returns:
            logits `(batch, size, size, 1)`.
        """
        if x_hat is None:
            x, x_hat = x
        joined = keras.ops.concatenate([x, x_hat], axis=-1)
        first = self._run(self.down1, joined, training)
        second = self._run(self.down2, self.pool(first), training)
        bottom = self._run(self.bottom, self.pool(second), training)
        up = keras.ops.concatenate([self.up2(bottom), second], axis=-1)
        up = self._run(self.merge2, up, training)
        up = keras.ops.concatenate([self.up1(up), first], axis=-1)
        up = self._run(self.merge1, up, training)
        return self.logits(up)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size, channels=self.channels, width=self.width,
            sync_batchnorm=self.sync_batchnorm,
        )
        return config
