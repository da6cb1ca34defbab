"""GANomaly (Akcay, Atapour-Abarghouei, Breckon, ACCV 2018) as a Keras 3 model.

The losses of the training step are in `GANomaly._step_losses`; the step itself (one
forward pass, two optimizers) in `ganomaly_keras.models.base.AdversarialDetector`, the
discriminator re-initialisation in `ganomaly_keras.models.discriminator_reset`; the
networks in `ganomaly_keras.networks`; the score terms in `ganomaly_keras.scoring.terms`.
"""

import keras

from ganomaly_keras import arguments
from ganomaly_keras.models.base import AdversarialDetector
from ganomaly_keras.models.defect_training import DefectTraining
from ganomaly_keras.models.discriminator_reset import DiscriminatorReset
from ganomaly_keras.models.ganomaly.networks import Generator
from ganomaly_keras.models.losses import as_float32, discriminator_bce, weighted_losses
from ganomaly_keras.networks import Discriminator
from ganomaly_keras.scoring import terms as scoring_terms


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class GANomaly(DefectTraining, DiscriminatorReset, AdversarialDetector):
    """GANomaly: an adversarially trained encoder-decoder-encoder anomaly detector.

    Train it on normal images only. `model(x)` and `model.predict(x)` return one
    anomaly score per image (higher = more anomalous), always computed in inference
    mode, so a score never depends on the rest of its batch. `reconstruct(x)` returns
    the reconstructions.

    Images are float tensors of shape `(batch, image_size, image_size, channels)`
    scaled to [-1, 1]; anything else raises an error that says how to fix it.

    `fit` runs, for every batch, the generator update on
    `adversarial_weight * L_adv + contextual_weight * L_con + encoder_weight * L_enc`
    (feature matching on the discriminator's last 4x4 map, L1 between x and x_hat, L2
    between z and z_hat) and the discriminator update on
    `0.5 * (BCE(D(x), 1) + BCE(D(x_hat), 0))` with x_hat held fixed, from one forward
    pass of the discriminator. When the discriminator loss falls below
    `discriminator_reset_threshold` the discriminator is re-initialised, its optimizer
    state included, and the `d_reinit` metric counts it. Batches may be `x` or `(x, y)`;
    labels are ignored (train on normal images).

    Args:
        extra_layers: int, extra 3x3 conv blocks in every network (0 in the paper).
        adversarial_weight: float, weight of the feature-matching loss (1).
        contextual_weight: float, weight of the L1 reconstruction loss (50).
        encoder_weight: float, weight of the latent L2 loss (1).
        discriminator_reset_threshold: float, re-initialise the discriminator when its
            loss falls below this (1e-5); 0 disables it.
        **kwargs: the options of training on synthetic defects (off by default:
            `ganomaly_keras.models.defect_training.DefectTraining`), and the shared
            arguments of `AdversarialDetector`: `image_size` (a
            power of two >= 16), `channels`, `latent_size` (nz, 100 in the paper),
            `width` (64 in the paper), `score` ("latent_mse" by default, "latent_l1",
            or a map term such as "residual_max"), `map_smoothing`,
            `working_size`, `sync_batchnorm`, `seed` (seeds the discriminator's
            re-initialisation draws).

    Example:
    ```python
    model = GANomaly(image_size=32, channels=1)
    model.compile()  # two Adam optimizers, lr 2e-4, beta_1 0.5
    model.fit(normal_images, epochs=15, batch_size=64)
    scores = model.predict(test_images)  # shape (n,), higher = more anomalous
    ```
    """

    def __init__(
        self, *, extra_layers=0, adversarial_weight=1.0, contextual_weight=50.0,
        encoder_weight=1.0, **kwargs,
    ):
        super().__init__(**kwargs)
        self.extra_layers = arguments.integer("extra_layers", extra_layers, minimum=0)
        self._store_weight_options(
            adversarial_weight=adversarial_weight, contextual_weight=contextual_weight,
            encoder_weight=encoder_weight,
        )
        shape = dict(self.network_options, extra_layers=self.extra_layers)
        self.generator = Generator(latent_size=self.latent_size, name="generator", **shape)
        self.discriminator = Discriminator(seed=self.seed, name="discriminator", **shape)
        self._finish_construction(
            ("g_loss", "g_adv", "g_con", "g_enc", "d_loss") + self.defect_loss_names()
        )

    term_definitions = scoring_terms.LATENT_DEFINITIONS
    paper_score_weights = {"latent_mse": ((1, "latent_mse"),), "latent_l1": ((1, "latent_l1"),)}

    # ------------------------------------------------------------------ training

    def _step_losses(self, x, training):
        """Forward pass of one training step: G once, D once on x and once on x_hat.

        Returns the per-replica mean losses as a dict.
        """
        x_in, masks = self.corrupt(x, training)  # x itself unless training on defects
        x_hat, z, z_hat = self.generator(x_in, training=training)
        real_logits, real_features = self.discriminator(x, training=training)
        fake_logits, fake_features = self.discriminator(x_hat, training=training)
        x, x_in, x_hat, z, z_hat, real_logits, real_features, fake_logits, fake_features = (
            as_float32(
                x, x_in, x_hat, z, z_hat, real_logits, real_features, fake_logits, fake_features
            )
        )

        terms = {
            "g_adv": keras.ops.mean(keras.ops.square(real_features - fake_features)),
            "g_con": keras.ops.mean(keras.ops.abs(x - x_hat)),
            "g_enc": keras.ops.mean(keras.ops.square(z - z_hat)),
            **self.defect_terms(x, x_in, x_hat, masks, training),
        }
        parts = (
            (self.adversarial_weight, "g_adv"), (self.contextual_weight, "g_con"),
            (self.encoder_weight, "g_enc"),
        ) + (((self.ssim_weight, "g_ssim"),) if "g_ssim" in terms else ())
        return weighted_losses(parts, terms, discriminator_bce(real_logits, fake_logits))

    # ------------------------------------------------------------------- scoring

    def image_terms(self, x):
        """GANomaly's per-image score terms.

        Args:
            x: a float batch in [-1, 1], shape `(batch, size, size, channels)`.

        Returns:
            `(x_hat, terms)`: the reconstruction G_D(G_E(x)), and a dict of per-image
            terms "latent_mse" (`mean((z - z_hat)^2)`) and "latent_l1"
            (`mean|z - z_hat|`), each of shape `(batch,)`; float32, computed in
            inference mode.
        """
        x_hat, z, z_hat = self.generator(x, training=False)
        return x_hat, scoring_terms.latent_terms(*as_float32(z, z_hat))

    def latent_codes(self, x, batch_size=256):
        """The latent codes of images, in inference mode.

        Args:
            x: float images in [-1, 1] of the networks' input shape.
            batch_size: images per forward pass.

        Returns:
            `(z, z_hat)`: NumPy arrays `(n, latent_size)`, `G_E(x)` and `E(G(x))`.
        """
        _, z, z_hat = self._predict_generator(x, batch_size)
        return z, z_hat
