"""GANomaly (Akcay, Atapour-Abarghouei, Breckon, ACCV 2018) as a Keras 3 model.

The losses of the training step (DESIGN.md section 2) are in `GANomaly._step_losses`;
the step itself (one forward pass, two optimizers, discriminator re-initialisation) in
`ganomaly_keras.models.base.AdversarialDetector.train_step`; the networks in
`ganomaly_keras.networks`; the score in `ganomaly_keras.scoring`.
"""

import keras

from ganomaly_keras import arguments, scoring
from ganomaly_keras.models.base import AdversarialDetector, mean_bce
from ganomaly_keras.networks import Discriminator, Generator


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class GANomaly(AdversarialDetector):
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
        image_size: int, side of the square images, a power of two >= 16.
        channels: int, image channels (1 for grayscale, 3 for colour).
        latent_size: int, size of the latent code (nz; 100 in the paper).
        width: int, base channel count of all networks (64 in the paper).
        extra_layers: int, extra 3x3 conv blocks in every network (0 in the paper).
        adversarial_weight: float, weight of the feature-matching loss (1).
        contextual_weight: float, weight of the L1 reconstruction loss (50).
        encoder_weight: float, weight of the latent L2 loss (1).
        score: `"latent_mse"` (default), `"latent_l1"`, or a map term of
            `ganomaly_keras.scoring` (`"residual_max"`, `"feature_max"`, ...).
        map_smoothing: int, box filter of the map terms (3).
        discriminator_reset_threshold: float, re-initialise the discriminator when its
            loss falls below this (1e-5); 0 disables it.
        sync_batchnorm: bool, synchronise BatchNorm statistics across replicas under a
            `tf.distribute` strategy so that distributed training computes what
            single-device training computes on the global batch.
        seed: optional int, seeds the discriminator's re-initialisation draws. Seed
            the initial weights with `keras.utils.set_random_seed`.

    Example:
    ```python
    model = GANomaly(image_size=32, channels=1)
    model.compile()  # two Adam optimizers, lr 2e-4, beta_1 0.5
    model.fit(normal_images, epochs=15, batch_size=64)
    scores = model.predict(test_images)  # shape (n,), higher = more anomalous
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
        encoder_weight=1.0,
        score="latent_mse",
        discriminator_reset_threshold=1e-5,
        sync_batchnorm=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(score=score, **kwargs)
        shape = dict(
            image_size=image_size,
            channels=channels,
            width=width,
            extra_layers=extra_layers,
            sync_batchnorm=sync_batchnorm,
        )
        self.generator = Generator(latent_size=latent_size, name="generator", **shape)
        self.discriminator = Discriminator(seed=seed, name="discriminator", **shape)
        self.image_size = self.generator.encoder.image_size
        self.channels = self.generator.encoder.channels
        self.latent_size = self.generator.encoder.latent_size
        self.width = width
        self.extra_layers = extra_layers
        self.adversarial_weight = arguments.weight("adversarial_weight", adversarial_weight)
        self.contextual_weight = arguments.weight("contextual_weight", contextual_weight)
        self.encoder_weight = arguments.weight("encoder_weight", encoder_weight)
        self.sync_batchnorm = bool(sync_batchnorm)
        self.seed = seed
        self._init_training_state(
            ("g_loss", "g_adv", "g_con", "g_enc", "d_loss"), discriminator_reset_threshold
        )
        self._build_networks()

    def build(self, input_shape):
        self.generator.build(input_shape)
        self.discriminator.build(input_shape)
        super().build(input_shape)

    paper_scores = scoring.LATENT_SCORES
    paper_score_definitions = scoring.LATENT_DEFINITIONS

    # ------------------------------------------------------------------ training

    def _step_losses(self, x, training):
        """Forward pass of one training step: G once, D once on x and once on x_hat.

        Returns the per-replica mean losses as a dict.
        """
        x_hat, z, z_hat = self.generator(x, training=training)
        real_logits, real_features = self.discriminator(x, training=training)
        fake_logits, fake_features = self.discriminator(x_hat, training=training)
        # Losses in float32 whatever the layers compute in (mixed precision).
        x, x_hat, z, z_hat = (keras.ops.cast(t, "float32") for t in (x, x_hat, z, z_hat))
        real_logits, real_features, fake_logits, fake_features = (
            keras.ops.cast(t, "float32")
            for t in (real_logits, real_features, fake_logits, fake_features)
        )

        adversarial = keras.ops.mean(keras.ops.square(real_features - fake_features))
        contextual = keras.ops.mean(keras.ops.abs(x - x_hat))
        encoder = keras.ops.mean(keras.ops.square(z - z_hat))
        generator = (
            self.adversarial_weight * adversarial
            + self.contextual_weight * contextual
            + self.encoder_weight * encoder
        )
        discriminator = 0.5 * (mean_bce(1.0, real_logits) + mean_bce(0.0, fake_logits))
        return {
            "g_loss": generator,
            "g_adv": adversarial,
            "g_con": contextual,
            "g_enc": encoder,
            "d_loss": discriminator,
        }

    # ------------------------------------------------------------------- scoring

    def paper_terms(self, x):
        """`(x_hat, {"latent_mse", "latent_l1"})` in inference mode, float32."""
        x_hat, z, z_hat = self.generator(x, training=False)
        z, z_hat = (keras.ops.cast(t, "float32") for t in (z, z_hat))
        return x_hat, {name: scoring.latent_score(z, z_hat, name) for name in self.paper_scores}

    def latent_codes(self, x, batch_size=256):
        """The codes `(z, z_hat)` in inference mode, as NumPy arrays."""
        _, z, z_hat = self._predict_generator(x, batch_size)
        return z, z_hat

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
            encoder_weight=self.encoder_weight,
            discriminator_reset_threshold=self.discriminator_reset_threshold,
            sync_batchnorm=self.sync_batchnorm,
            seed=self.seed,
        )
        return config
