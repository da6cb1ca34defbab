"""skip-GANomaly (Akcay, Atapour-Abarghouei, Breckon, IJCNN 2019; DESIGN.md section 5).

A U-Net generator reconstructs x; a discriminator ending in latent features f tells x
from x_hat. Generator loss: `w_adv * BCE(D(x_hat), 1) + w_con * |x - x_hat|_1 +
w_lat * (f(x) - f(x_hat))^2` (means; defaults 1 / 50 / 1). Discriminator loss, step
structure, re-initialisation, calibration and export are those of every detector of
the package (`ganomaly_keras.models.base.AdversarialDetector`).

Score: `reconstruction_weight * mean((x - x_hat)^2) + feature_weight *
mean((f(x) - f(x_hat))^2)` (0.9 / 0.1), in inference mode.
"""

import keras

from ganomaly_keras import arguments
from ganomaly_keras.models.base import AdversarialDetector, mean_bce
from ganomaly_keras.networks import LatentDiscriminator, UNetGenerator


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class SkipGANomaly(AdversarialDetector):
    """skip-GANomaly: a U-Net generator with an adversarial latent-feature loss.

    Same API as `GANomaly`: train on normal images with `fit`; `model(x)` /
    `predict(x)` give scores (higher = more anomalous); `reconstruct`, `calibrate`,
    `predict_anomaly`, `normalized_score` and `export_model` work the same.

    Args:
        image_size: int, a power of two >= 16.
        channels: int, image channels.
        latent_size: int, size of the discriminator's feature vector f (100).
        width: int, base channel count of both networks (64).
        extra_layers: int, extra 3x3 conv blocks in the discriminator.
        adversarial_weight: float, weight of BCE(D(x_hat), 1) in G's loss (1).
        contextual_weight: float, weight of the L1 reconstruction loss (50).
        latent_weight: float, weight of the feature (latent) loss (1).
        reconstruction_score_weight: float, weight of the reconstruction error in the
            score (0.9).
        feature_score_weight: float, weight of the feature error in the score (0.1).
        discriminator_reset_threshold: float, re-initialise D when its loss falls
            below this (1e-5); 0 disables it.
        sync_batchnorm: bool, synchronise BatchNorm across replicas.
        seed: optional int, seeds D's re-initialisation.
        score: `"paper"` (default, the score above) or a map term of
            `ganomaly_keras.scoring` (`"residual_max"`, `"feature_max"`, ...).
        map_smoothing: int, box filter of the map terms (3).

    Example:
    ```python
    model = SkipGANomaly(image_size=32, channels=1)
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
        extra_layers=0,
        adversarial_weight=1.0,
        contextual_weight=50.0,
        latent_weight=1.0,
        reconstruction_score_weight=0.9,
        feature_score_weight=0.1,
        discriminator_reset_threshold=1e-5,
        sync_batchnorm=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = UNetGenerator(
            image_size=image_size, channels=channels, width=width,
            sync_batchnorm=sync_batchnorm, name="generator",
        )
        self.discriminator = LatentDiscriminator(
            image_size=image_size, channels=channels, latent_size=latent_size,
            width=width, extra_layers=extra_layers, sync_batchnorm=sync_batchnorm,
            seed=seed, name="discriminator",
        )
        self.image_size = self.generator.image_size
        self.channels = self.generator.channels
        self.latent_size = latent_size
        self.width = width
        self.extra_layers = extra_layers
        self.adversarial_weight = arguments.weight("adversarial_weight", adversarial_weight)
        self.contextual_weight = arguments.weight("contextual_weight", contextual_weight)
        self.latent_weight = arguments.weight("latent_weight", latent_weight)
        self.reconstruction_score_weight = arguments.weight("reconstruction_score_weight", reconstruction_score_weight)
        self.feature_score_weight = arguments.weight("feature_score_weight", feature_score_weight)
        self.sync_batchnorm = bool(sync_batchnorm)
        self.seed = seed
        self._init_training_state(
            ("g_loss", "g_adv", "g_con", "g_lat", "d_loss"), discriminator_reset_threshold
        )
        self._build_networks()

    def build(self, input_shape):
        self.generator.build(input_shape)
        self.discriminator.build(input_shape)
        super().build(input_shape)

    @property
    def paper_score_definitions(self):
        return {
            "paper": f"{self.reconstruction_score_weight} * mean((x - G(x))^2) + "
            f"{self.feature_score_weight} * mean((f(x) - f(G(x)))^2), f = the "
            "discriminator's latent features"
        }

    # ------------------------------------------------------------------ training

    def _step_losses(self, x, training):
        x_hat = self.generator(x, training=training)
        real_logits, real_features = self.discriminator(x, training=training)
        fake_logits, fake_features = self.discriminator(x_hat, training=training)
        x, x_hat, real_logits, real_features, fake_logits, fake_features = (
            keras.ops.cast(t, "float32")
            for t in (x, x_hat, real_logits, real_features, fake_logits, fake_features)
        )


        adversarial = mean_bce(1.0, fake_logits)
        contextual = keras.ops.mean(keras.ops.abs(x - x_hat))
        latent = keras.ops.mean(keras.ops.square(real_features - fake_features))
        generator = (
            self.adversarial_weight * adversarial
            + self.contextual_weight * contextual
            + self.latent_weight * latent
        )
        discriminator = 0.5 * (mean_bce(1.0, real_logits) + mean_bce(0.0, fake_logits))
        return {
            "g_loss": generator,
            "g_adv": adversarial,
            "g_con": contextual,
            "g_lat": latent,
            "d_loss": discriminator,
        }

    # ------------------------------------------------------------------- scoring

    def paper_terms(self, x):
        """`(x_hat, {"paper": score})` in inference mode, float32."""
        x_hat = self.generator(x, training=False)
        _, real_features = self.discriminator(x, training=False)
        _, fake_features = self.discriminator(x_hat, training=False)
        x_hat, real_features, fake_features = (
            keras.ops.cast(t, "float32") for t in (x_hat, real_features, fake_features)
        )
        reconstruction = keras.ops.mean(keras.ops.square(x - x_hat), axis=(1, 2, 3))
        features = keras.ops.mean(keras.ops.square(real_features - fake_features), axis=-1)
        return x_hat, {
            "paper": self.reconstruction_score_weight * reconstruction
            + self.feature_score_weight * features
        }

    # ------------------------------------------------------------- serialization

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            channels=self.channels,
            latent_size=self.latent_size,
            width=self.width,
            extra_layers=self.extra_layers,
            adversarial_weight=self.adversarial_weight,
            contextual_weight=self.contextual_weight,
            latent_weight=self.latent_weight,
            reconstruction_score_weight=self.reconstruction_score_weight,
            feature_score_weight=self.feature_score_weight,
            discriminator_reset_threshold=self.discriminator_reset_threshold,
            sync_batchnorm=self.sync_batchnorm,
            seed=self.seed,
        )
        return config
