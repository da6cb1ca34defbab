"""skip-GANomaly (Akcay, Atapour-Abarghouei, Breckon, IJCNN 2019).

A U-Net generator reconstructs x; a discriminator ending in latent features f tells x
from x_hat. Generator loss: `w_adv * BCE(D(x_hat), 1) + w_con * |x - x_hat|_1 +
w_lat * (f(x) - f(x_hat))^2` (means; defaults 1 / 50 / 1). Discriminator loss:
`0.5 * (BCE(D(x), 1) + BCE(D(x_hat), 0)) + discriminator_latent_weight * (f(x) -
f(x_hat))^2`. The default weight 0 is the DCGAN loss every detector of the package
shares. The official code (`samet-akcay/skip-ganomaly`, `update_netd`) has D minimise
the feature gap too: its `BCE + BCE + w_lat * L2` is, up to a factor Adam ignores,
`discriminator_latent_weight=0.5`. Step structure, re-initialisation, calibration and
export are those of every detector (`ganomaly_keras.models.base.AdversarialDetector`).

Score: `reconstruction_weight * mean((x - x_hat)^2) + feature_weight *
mean((f(x) - f(x_hat))^2)` (0.9 / 0.1), in inference mode.
"""

import keras

from ganomaly_keras import arguments
from ganomaly_keras.models.base import AdversarialDetector
from ganomaly_keras.models.defect_training import DefectTraining
from ganomaly_keras.models.discriminator_reset import DiscriminatorReset
from ganomaly_keras.models.losses import (
    as_float32,
    discriminator_bce,
    mean_bce,
    weighted_losses,
)
from ganomaly_keras.models.skip_ganomaly.discriminator import LatentDiscriminator
from ganomaly_keras.models.skip_ganomaly.unet import UNetGenerator


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class SkipGANomaly(DefectTraining, DiscriminatorReset, AdversarialDetector):
    """skip-GANomaly: a U-Net generator with an adversarial latent-feature loss.

    Same API as `GANomaly`: train on normal images with `fit`; `model(x)` /
    `predict(x)` give scores (higher = more anomalous); `reconstruct`, `calibrate`,
    `predict_anomaly`, `normalized_score` and `export_model` work the same.

    Args:
        extra_layers: int, extra 3x3 conv blocks in the discriminator.
        adversarial_weight: float, weight of BCE(D(x_hat), 1) in G's loss (1).
        contextual_weight: float, weight of the L1 reconstruction loss (50).
        latent_weight: float, weight of the feature (latent) loss (1).
        discriminator_latent_weight: float, weight of the same feature loss in D's
            loss (0; 0.5 is the official code's discriminator loss, see above).
        reconstruction_score_weight: float, weight of the reconstruction error in the
            score (0.9).
        feature_score_weight: float, weight of the feature error in the score (0.1).
        discriminator_reset_threshold: float, re-initialise D when its loss falls
            below this (1e-5); 0 disables it.
        **kwargs: the options of training on synthetic defects (off by default:
            `ganomaly_keras.models.defect_training.DefectTraining`), and the shared
            arguments of `AdversarialDetector`: `image_size`,
            `channels`, `latent_size` (the size of D's feature vector f, 100),
            `width` (64), `score` ("paper", the score above, by default, or a map
            term such as "residual_max"), `map_smoothing`, `working_size`,
            `sync_batchnorm`, `seed` (seeds D's re-initialisation).

    Example:
    ```python
    model = SkipGANomaly(image_size=64, channels=3, score="residual_max")
    model.compile()
    model.fit(normal_patches, epochs=15, batch_size=32)
    maps = model.predict_maps(test_patches)  # (n, 64, 64): where the defects are
    ```
    """

    def __init__(
        self, *, extra_layers=0, adversarial_weight=1.0, contextual_weight=50.0,
        latent_weight=1.0, discriminator_latent_weight=0.0, reconstruction_score_weight=0.9,
        feature_score_weight=0.1, **kwargs,
    ):
        super().__init__(**kwargs)
        self.extra_layers = arguments.integer("extra_layers", extra_layers, minimum=0)
        self._store_weight_options(
            adversarial_weight=adversarial_weight, contextual_weight=contextual_weight,
            latent_weight=latent_weight, discriminator_latent_weight=discriminator_latent_weight,
            reconstruction_score_weight=reconstruction_score_weight,
            feature_score_weight=feature_score_weight,
        )
        self.generator = UNetGenerator(name="generator", **self.network_options)
        self.discriminator = LatentDiscriminator(
            latent_size=self.latent_size, extra_layers=self.extra_layers, seed=self.seed,
            name="discriminator", **self.network_options,
        )
        self._finish_construction(
            ("g_loss", "g_adv", "g_con", "g_lat", "d_loss") + self.defect_loss_names()
        )

    term_definitions = {
        "reconstruction_mse": "mean((x - G(x))^2)",
        "feature_mse": "mean((f(x) - f(G(x)))^2), f = the discriminator's latent features",
    }

    @property
    def paper_score_weights(self):
        """The paper's score as `{name: ((weight, term), ...)}`."""
        return {"paper": (
            (self.reconstruction_score_weight, "reconstruction_mse"),
            (self.feature_score_weight, "feature_mse"),
        )}

    # ------------------------------------------------------------------ training

    def _step_losses(self, x, training):
        x_in, masks = self.corrupt(x, training)  # x itself unless training on defects
        x_hat = self.generator(x_in, training=training)
        real_logits, real_features = self.discriminator(x, training=training)
        fake_logits, fake_features = self.discriminator(x_hat, training=training)
        x, x_in, x_hat, real_logits, real_features, fake_logits, fake_features = as_float32(
            x, x_in, x_hat, real_logits, real_features, fake_logits, fake_features
        )
        terms = {
            "g_adv": mean_bce(1.0, fake_logits),
            "g_con": keras.ops.mean(keras.ops.abs(x - x_hat)),
            "g_lat": keras.ops.mean(keras.ops.square(real_features - fake_features)),
            **self.defect_terms(x, x_in, x_hat, masks, training),
        }
        parts = (
            (self.adversarial_weight, "g_adv"), (self.contextual_weight, "g_con"),
            (self.latent_weight, "g_lat"),
        ) + (((self.ssim_weight, "g_ssim"),) if "g_ssim" in terms else ())
        discriminator_loss = discriminator_bce(real_logits, fake_logits)
        if self.discriminator_latent_weight:  # D narrows the feature gap too
            discriminator_loss += self.discriminator_latent_weight * terms["g_lat"]
        return weighted_losses(parts, terms, discriminator_loss)

    # ------------------------------------------------------------------- scoring

    def image_terms(self, x):
        """skip-GANomaly's per-image score terms.

        Args:
            x: a float batch in [-1, 1], shape `(batch, size, size, channels)`.

        Returns:
            `(x_hat, terms)`: the U-Net's reconstruction, and a dict of per-image terms
            "reconstruction_mse" and "feature_mse" (the discriminator's latent features
            of x against those of x_hat), each of shape `(batch,)`; float32, computed in
            inference mode.
        """
        x_hat = self.generator(x, training=False)
        _, real_features = self.discriminator(x, training=False)
        _, fake_features = self.discriminator(x_hat, training=False)
        x_hat, real_features, fake_features = as_float32(x_hat, real_features, fake_features)
        return x_hat, {
            "reconstruction_mse": keras.ops.mean(keras.ops.square(x - x_hat), axis=(1, 2, 3)),
            "feature_mse": keras.ops.mean(keras.ops.square(real_features - fake_features), axis=-1),
        }
