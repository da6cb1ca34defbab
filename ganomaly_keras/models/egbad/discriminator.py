"""The BiGAN discriminator of EGBAD (Zenati et al. 2018): it judges pairs (x, z).

An image path (the DCGAN encoder's layers down to its 4x4 map, flattened), a latent path (a dense
layer) and a joint path of dense layers, ending in one logit. The joint layer's
activations are the features EGBAD's feature-matching score compares.
"""

import keras

from ganomaly_keras.networks import layers as L


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class JointDiscriminator(keras.Model):
    """(x, z) -> (logits `(batch,)`, joint features `(batch, joint_units)`).

    Args:
        image_size: int, a power of two >= 16.
        channels: int, image channels.
        latent_size: int, size of z.
        width: int, base channel count of the image path (64).
        joint_units: int, width of the joint layer (512).
        dropout: float, dropout rate in the latent and joint paths (0.2, as EGBAD).
        sync_batchnorm: bool, synchronise the image path's BatchNorm statistics
            across replicas under a `tf.distribute` strategy.

    Example:
    ```python
    discriminator = JointDiscriminator(image_size=32, channels=1, latent_size=100)
    logits, features = discriminator((x, z))
    ```
    """

    def __init__(
        self, image_size=32, channels=3, latent_size=100, width=64, joint_units=512,
        dropout=0.2, sync_batchnorm=False, **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size = L.validate_image_size(image_size)
        self.channels = L.validate_positive_int("channels", channels)
        self.width = L.validate_positive_int("width", width)
        self.sync_batchnorm = bool(sync_batchnorm)
        self.image_blocks, self.feature_channels = L.dcgan_feature_blocks(
            self.image_size, width, 0, self.sync_batchnorm
        )
        self.latent_size = L.validate_positive_int("latent_size", latent_size)
        self.joint_units = L.validate_positive_int("joint_units", joint_units)
        self.dropout = float(dropout)
        self.flatten = keras.layers.Flatten(name="flatten")
        self.latent_dense = keras.layers.Dense(joint_units, name="latent_dense")
        self.latent_relu = keras.layers.LeakyReLU(0.2, name="latent_relu")
        self.latent_dropout = keras.layers.Dropout(dropout, name="latent_dropout")
        self.concatenate = keras.layers.Concatenate(name="concatenate")
        self.joint_dense = keras.layers.Dense(joint_units, name="joint_dense")
        self.joint_relu = keras.layers.LeakyReLU(0.2, name="joint_relu")
        self.joint_dropout = keras.layers.Dropout(dropout, name="joint_dropout")
        self.logit = keras.layers.Dense(1, name="logit")

    def build(self, input_shape):
        shape = tuple(input_shape[0])
        for layer in self.image_blocks:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        flat = shape[1] * shape[2] * shape[3]
        self.latent_dense.build((None, self.latent_size))
        self.joint_dense.build((None, flat + self.joint_units))
        self.logit.build((None, self.joint_units))
        self.built = True

    def call(self, inputs, training=False):
        """Run the discriminator on (image, code) pairs.

        Args:
            inputs: `(x, z)`: images of shape `(batch, image_size, image_size,
                channels)` and codes of `latent_size` values each.
            training: bool, BatchNorm and dropout in training mode when true.

        Returns:
            `(logits, features)`: shape `(batch,)` and the joint layer's features.
        """
        x, z = inputs
        for layer in self.image_blocks:
            x = layer(x, training=training)
        image = self.flatten(x)
        latent = self.latent_dropout(
            self.latent_relu(self.latent_dense(keras.ops.reshape(z, (-1, self.latent_size)))),
            training=training,
        )
        joint = self.joint_dropout(
            self.joint_relu(self.joint_dense(self.concatenate([image, latent]))),
            training=training,
        )
        return keras.ops.reshape(self.logit(joint), (-1,)), joint

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            channels=self.channels,
            latent_size=self.latent_size,
            width=self.width,
            joint_units=self.joint_units,
            dropout=self.dropout,
            sync_batchnorm=self.sync_batchnorm,
        )
        return config
