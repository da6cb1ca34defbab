"""EGBAD (Zenati et al. 2018, "Efficient GAN-Based Anomaly Detection"), a BiGAN.

A generator G: z -> x and an encoder E: x -> z are trained together against a
discriminator D(x, z) that tells pairs (x, E(x)) from pairs (G(z), z). One of the
GANomaly paper's baselines (DESIGN.md section 5).

Losses (BCE on logits, means): D: `BCE(D(x, E(x)), 1) + BCE(D(G(z), z), 0)`; G and E
together (one optimizer): the same with the labels swapped.

Score, in inference mode: `reconstruction_score_weight * mean |x - G(E(x))| +
feature_score_weight * mean |f(x, E(x)) - f(G(E(x)), E(x))|` (0.9 / 0.1, the paper's
feature-matching variant), f = D's joint features.
"""

import keras

from ganomaly_keras import arguments
from ganomaly_keras.models.base import AdversarialDetector, mean_bce
from ganomaly_keras.networks import Decoder, Encoder, JointDiscriminator


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class EGBAD(AdversarialDetector):
    """EGBAD / BiGAN anomaly detector with the package's `fit`/score/export API.

    Args:
        image_size: int, a power of two >= 16.
        channels: int, image channels.
        latent_size: int, size of z (100).
        width: int, base channel count of G, E and D's image path (64).
        joint_units: int, width of D's latent and joint layers (512).
        reconstruction_score_weight: float, weight of the residual in the score (0.9).
        feature_score_weight: float, weight of the feature-matching term (0.1).
        sync_batchnorm: bool, synchronise BatchNorm across replicas.
        seed: optional int, seeds the latent draws.
        score: `"paper"` (default, the score above) or a map term of
            `ganomaly_keras.scoring` (`"residual_max"`, `"feature_max"`, ...).
        map_smoothing: int, box filter of the map terms (3).

    Example:
    ```python
    model = EGBAD(image_size=32, channels=1)
    model.compile()
    model.fit(normal_images, epochs=15, batch_size=64)
    scores = model.predict(test_images)
    ```
    """

    def __init__(
        self,
        image_size=32,
        channels=3,
        latent_size=100,
        width=64,
        joint_units=512,
        reconstruction_score_weight=0.9,
        feature_score_weight=0.1,
        sync_batchnorm=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        shape = dict(image_size=image_size, channels=channels, width=width)
        self.generator = Decoder(
            latent_size=latent_size, sync_batchnorm=sync_batchnorm, name="generator", **shape
        )
        self.encoder = Encoder(
            latent_size=latent_size, sync_batchnorm=sync_batchnorm, name="encoder", **shape
        )
        self.discriminator = JointDiscriminator(
            latent_size=latent_size, joint_units=joint_units, name="discriminator", **shape
        )
        self.image_size = self.encoder.image_size
        self.channels = self.encoder.channels
        self.latent_size = self.encoder.latent_size
        self.width = width
        self.joint_units = joint_units
        self.reconstruction_score_weight = arguments.weight("reconstruction_score_weight", reconstruction_score_weight)
        self.feature_score_weight = arguments.weight("feature_score_weight", feature_score_weight)
        self.sync_batchnorm = bool(sync_batchnorm)
        self.seed = seed
        self.noise_seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self._init_training_state(("g_loss", "d_loss"), 0.0)
        self._build_networks()

    def build(self, input_shape):
        self.encoder.build(input_shape)
        self.generator.build((input_shape[0], 1, 1, self.latent_size))
        self.discriminator.build((input_shape, (input_shape[0], self.latent_size)))
        super().build(input_shape)

    @property
    def metrics(self):
        return list(self.trackers.values())  # EGBAD never re-initialises D

    @property
    def generator_variables(self):
        return self.generator.trainable_variables + self.encoder.trainable_variables

    @property
    def paper_score_definitions(self):
        return {"paper": (
            f"{self.reconstruction_score_weight} * mean |x - G(E(x))| + "
            f"{self.feature_score_weight} * mean |f(x, E(x)) - f(G(E(x)), E(x))|, "
            "f = the discriminator's joint features"
        )}

    # ------------------------------------------------------------------ training

    def _step_losses(self, x, training):
        batch = keras.ops.shape(x)[0]
        z = keras.random.normal((batch, 1, 1, self.latent_size), seed=self.noise_seed_generator)
        fake = self.generator(z, training=training)
        code = self.encoder(x, training=training)
        real_logits, _ = self.discriminator((x, code), training=training)
        fake_logits, _ = self.discriminator((fake, z), training=training)
        real_logits, fake_logits = (keras.ops.cast(t, "float32") for t in (real_logits, fake_logits))


        return {
            "d_loss": mean_bce(1.0, real_logits) + mean_bce(0.0, fake_logits),
            "g_loss": mean_bce(0.0, real_logits) + mean_bce(1.0, fake_logits),
        }

    # ------------------------------------------------------------------- scoring

    def reconstruction_outputs(self, x):
        code = self.encoder(x, training=False)
        return self.generator(code, training=False), keras.ops.reshape(code, (-1, self.latent_size))

    def paper_terms(self, x):
        """`(x_hat, {"paper": score})` in inference mode, float32."""
        x_hat, code = self.reconstruction_outputs(x)
        _, real_features = self.discriminator((x, code), training=False)
        _, fake_features = self.discriminator((x_hat, code), training=False)
        x_hat, real_features, fake_features = (
            keras.ops.cast(t, "float32") for t in (x_hat, real_features, fake_features)
        )
        residual = keras.ops.mean(keras.ops.abs(x - x_hat), axis=(1, 2, 3))
        features = keras.ops.mean(keras.ops.abs(real_features - fake_features), axis=-1)
        return x_hat, {
            "paper": self.reconstruction_score_weight * residual
            + self.feature_score_weight * features
        }

    @property
    def feature_network(self):
        """The encoder: the joint discriminator is not a DCGAN encoder."""
        return self.encoder

    # ------------------------------------------------------------- serialization

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            channels=self.channels,
            latent_size=self.latent_size,
            width=self.width,
            joint_units=self.joint_units,
            reconstruction_score_weight=self.reconstruction_score_weight,
            feature_score_weight=self.feature_score_weight,
            sync_batchnorm=self.sync_batchnorm,
            seed=self.seed,
        )
        return config
