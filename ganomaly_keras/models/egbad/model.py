"""EGBAD (Zenati et al. 2018, "Efficient GAN-Based Anomaly Detection"), a BiGAN.

A generator G: z -> x and an encoder E: x -> z are trained together against a
discriminator D(x, z) that tells pairs (x, E(x)) from pairs (G(z), z). One of the
GANomaly paper's baselines.

Losses (BCE on logits, means): D: `BCE(D(x, E(x)), 1) + BCE(D(G(z), z), 0)`; G and E
together (one optimizer): the same with the labels swapped.

Score, in inference mode: `reconstruction_score_weight * mean |x - G(E(x))| +
feature_score_weight * mean |f(x, E(x)) - f(G(E(x)), E(x))|` (0.9 / 0.1, the paper's
feature-matching variant), f = D's joint features.
"""

import keras

from ganomaly_keras import arguments
from ganomaly_keras.models.base import AdversarialDetector
from ganomaly_keras.models.egbad.discriminator import JointDiscriminator
from ganomaly_keras.models.encoded_reconstruction import EncodedReconstruction
from ganomaly_keras.models.losses import as_float32, mean_bce
from ganomaly_keras.networks import Decoder, Encoder


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class EGBAD(EncodedReconstruction, AdversarialDetector):
    """EGBAD / BiGAN anomaly detector with the package's `fit`/score/export API.

    Args:
        joint_units: int, width of D's latent and joint layers (512).
        reconstruction_score_weight: float, weight of the residual in the score (0.9).
        feature_score_weight: float, weight of the feature-matching term (0.1).
        **kwargs: the shared arguments of `AdversarialDetector`: `image_size`,
            `channels`, `latent_size` (size of z, 100), `width` (64), `score`
            ("paper", the score above, by default, or a map term such as
            "residual_max"), `map_smoothing`, `working_size`, `sync_batchnorm`
            (all three networks), `seed` (seeds the latent draws).

    Example:
    ```python
    model = EGBAD(image_size=32, channels=1, joint_units=256)
    model.compile()  # one optimizer for G and E together, one for D
    model.fit(normal_images, epochs=15, batch_size=64)
    model.calibrate(validation_images, validation_labels)
    decisions = model.predict_anomaly(test_images)  # 1 = anomaly
    ```
    """

    def __init__(
        self, *, joint_units=512, reconstruction_score_weight=0.9, feature_score_weight=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.joint_units = arguments.positive_integer("joint_units", joint_units)
        self._store_weight_options(
            reconstruction_score_weight=reconstruction_score_weight,
            feature_score_weight=feature_score_weight,
        )
        shape = dict(self.network_options, latent_size=self.latent_size)
        self.generator = Decoder(name="generator", **shape)
        self.encoder = Encoder(name="encoder", **shape)
        self.discriminator = JointDiscriminator(
            joint_units=self.joint_units, name="discriminator", **shape
        )
        self.noise_seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")
        self._finish_construction(("g_loss", "d_loss"))

    def build_networks(self, input_shape):
        """Build the encoder, the generator and the joint (x, z) discriminator for images
        of `input_shape`.

        Args:
            input_shape: `(batch, size, size, channels)` of the images.
        """
        self.encoder.build(input_shape)
        self.generator.build((input_shape[0], 1, 1, self.latent_size))
        self.discriminator.build((input_shape, (input_shape[0], self.latent_size)))

    term_definitions = {
        "residual_l1": "mean |x - G(E(x))|",
        "feature_l1": "mean |f(x, E(x)) - f(G(E(x)), E(x))|, f = the discriminator's "
        "joint features",
    }

    @property
    def paper_score_weights(self):
        """The paper's score as `{name: ((weight, term), ...)}`."""
        return {"paper": (
            (self.reconstruction_score_weight, "residual_l1"),
            (self.feature_score_weight, "feature_l1"),
        )}

    # ------------------------------------------------------------------ training

    def _step_losses(self, x, training):
        z = self._draw_noise(x)
        fake = self.generator(z, training=training)
        code = self.encoder(x, training=training)
        real_logits, _ = self.discriminator((x, code), training=training)
        fake_logits, _ = self.discriminator((fake, z), training=training)
        real_logits, fake_logits = as_float32(real_logits, fake_logits)
        return {
            "d_loss": mean_bce(1.0, real_logits) + mean_bce(0.0, fake_logits),
            "g_loss": mean_bce(0.0, real_logits) + mean_bce(1.0, fake_logits),
        }

    # ------------------------------------------------------------------- scoring

    def image_terms(self, x):
        """EGBAD's per-image score terms.

        Args:
            x: a float batch in [-1, 1], shape `(batch, size, size, channels)`.

        Returns:
            `(x_hat, terms)`: G(E(x)), and a dict of per-image terms "residual_l1" and
            "feature_l1" (the joint discriminator's features of (x, E(x)) against those
            of (G(E(x)), E(x))), each of shape `(batch,)`; float32, computed in
            inference mode.
        """
        x_hat, code = self.reconstruction_outputs(x)
        _, real_features = self.discriminator((x, code), training=False)
        _, fake_features = self.discriminator((x_hat, code), training=False)
        x_hat, real_features, fake_features = as_float32(x_hat, real_features, fake_features)
        return x_hat, {
            "residual_l1": keras.ops.mean(keras.ops.abs(x - x_hat), axis=(1, 2, 3)),
            "feature_l1": keras.ops.mean(keras.ops.abs(real_features - fake_features), axis=-1),
        }

    @property
    def feature_network(self):
        """The encoder: the joint discriminator is not a DCGAN encoder."""
        return self.encoder
