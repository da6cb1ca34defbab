"""Simultaneous encoder training (Berg, Ahlberg, Felsberg 2019, arXiv 1905.11034).

A GAN learns the training images; an encoder E is trained at the same time to invert
the generator on generated images, with `|G(z) - G(E(G(z)))|_1` updating E only. As in
the authors' code (amandaberg/GANanomalyDetection): the generator pixel-normalises its
input code, so G(c * z) = G(z) for any c > 0 and the norm of E(x) is free to carry a
cue; the critic loss is WGAN-GP with a drift term `0.001 * mean(C(x)^2)`; one critic
update per generator update; Adam(1e-3, beta_1 0, beta_2 0.99, epsilon 1e-8) for every
network; latent size 512.

Differences from that code, which trains a progressive GAN for 15 million images on GPUs:

- Networks: the DCGAN decoder with BatchNorm (`ganomaly_keras.networks.Decoder`) as
  the generator and a BatchNorm-free DCGAN critic, at a fixed resolution. Theirs grows
  progressively (4x4 up to the image size, fading in each level), with equalised
  learning rates, pixel normalisation after every generator layer and a minibatch
  standard-deviation layer in the critic.
- No moving-average copy of the generator (their `Gs`, used for sampling and scoring):
  scores here use the trained generator itself.
- E is updated from the same generated batch as G's update, before G's new weights
  apply; theirs updates G, then draws a fresh batch for E.
- Their latent draws are `0.1 * N(0, 1)`; after pixel normalisation the scale does not
  matter, and N(0, 1) is drawn here.
- Their anomaly script writes each image's residual `mean |x - G(E(x))|` and its code
  E(x); the latent-norm cue is the paper's. Its direction (large or small norm for an
  anomaly) is not assumed here: `latent_norm` is `||E(x)|| / sqrt(latent_size)`, and
  its validation AUROC says which way it points on the data at hand.

Scores (higher = more anomalous), all in inference mode:

- `"latent_norm"`: `||E(x)|| / sqrt(latent_size)` (1 for a code on G's sphere);
- `"residual"`: `mean |x - G(E(x))|`;
- `"combined"` (default): `(1 - latent_norm_weight) * residual + latent_norm_weight *
  latent_norm`.
"""

import keras
import tensorflow as tf

from ganomaly_keras import arguments
from ganomaly_keras.models.base import AdversarialDetector
from ganomaly_keras.models.encoded_reconstruction import EncodedReconstruction
from ganomaly_keras.models.losses import as_float32
from ganomaly_keras.models.simultaneous_encoder.critic import Critic
from ganomaly_keras.models.training_step import Phase, Update
from ganomaly_keras.networks import Decoder, Encoder


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class SimultaneousEncoderGAN(EncodedReconstruction, AdversarialDetector):
    """A WGAN-GP with an encoder trained on generated images at the same time.

    Same API as `GANomaly` (`fit`, `predict`, `reconstruct`, `calibrate`,
    `predict_anomaly`, export). Each training step makes `critic_steps` critic updates
    (WGAN-GP with penalty weight `gradient_penalty_weight` and drift term
    `drift_weight * mean(C(x)^2)`), then one update of the generator
    (`-mean(C(G(z)))`) and, with the same optimizer, of the encoder
    (`mean |G(z) - G(E(G(z)))|`, G(z) held fixed, only E's weights change). The
    generator pixel-normalises its input code. Defaults follow the authors' code:
    one critic step, drift 0.001, Adam(1e-3, beta_1 0, beta_2 0.99) for both
    optimizers, latent size 512 (the module docstring lists what differs).

    Args:
        critic_steps: int, critic updates per generator update (1, as the authors'
            code; WGAN-GP's paper uses 5).
        gradient_penalty_weight: float, lambda of the gradient penalty (10).
        drift_weight: float, weight of the drift term `mean(C(x)^2)` that keeps the
            critic's scores near 0 (0.001, the progressive GAN's epsilon_drift).
        latent_norm_weight: float in [0, 1], weight of the latent norm in "combined".
        **kwargs: the shared arguments of `AdversarialDetector`: `image_size`,
            `channels`, `latent_size` (size of z, 512 here), `width` (64), `score`
            ("combined" by default, "latent_norm", "residual", or a map term such as
            "residual_max"), `map_smoothing`, `working_size`, `sync_batchnorm`,
            `seed` (seeds the latent and interpolation draws).

    Example:
    ```python
    model = SimultaneousEncoderGAN(image_size=32, channels=1)
    model.compile()
    model.fit(training_images, epochs=15, batch_size=64)  # may hold some anomalies
    scores = model.predict(test_images)
    ```
    """

    def __init__(
        self, *, critic_steps=1, gradient_penalty_weight=10.0, drift_weight=0.001,
        latent_norm_weight=0.5, latent_size=512, **kwargs,
    ):
        super().__init__(latent_size=latent_size, **kwargs)
        self.critic_steps = arguments.positive_integer("critic_steps", critic_steps)
        self._store_weight_options(
            gradient_penalty_weight=gradient_penalty_weight, drift_weight=drift_weight
        )
        self.latent_norm_weight = arguments.number(
            "latent_norm_weight", latent_norm_weight, minimum=0.0, maximum=1.0
        )
        shape = dict(self.network_options, latent_size=self.latent_size)
        self.generator = Decoder(name="generator", normalize_latents=True, **shape)
        self.encoder = Encoder(name="encoder", **shape)
        self.discriminator = Critic(
            image_size=self.image_size, channels=self.channels, width=self.width, name="critic"
        )
        self.noise_seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")
        self._finish_construction(("g_loss", "e_loss", "d_loss", "d_gp"))

    def build_networks(self, input_shape):
        """Build the encoder, the generator and the critic for images of `input_shape`.

        Args:
            input_shape: `(batch, size, size, channels)` of the images.
        """
        self.encoder.build(input_shape)
        self.generator.build((input_shape[0], 1, 1, self.latent_size))
        self.discriminator.build(input_shape)

    def _default_optimizer(self, name):
        return keras.optimizers.Adam(
            learning_rate=1e-3, beta_1=0.0, beta_2=0.99, epsilon=1e-8, name=name
        )

    term_definitions = {
        "latent_norm": "||E(x)|| / sqrt(latent_size)",
        "residual": "mean |x - G(E(x))|",
    }

    @property
    def paper_score_weights(self):
        """The paper's scores (combined, latent norm, residual) as
        `{name: ((weight, term), ...)}`."""
        weight = self.latent_norm_weight
        return {
            "combined": ((1.0 - weight, "residual"), (weight, "latent_norm")),
            "latent_norm": ((1, "latent_norm"),),
            "residual": ((1, "residual"),),
        }

    @property
    def feature_network(self):
        """The encoder: the WGAN critic has no BatchNorm and is not a DCGAN encoder."""
        return self.encoder

    # ------------------------------------------------------------------ training

    def _draw_mix(self, x):
        """The gradient penalty's interpolation weights U(0, 1), one per image of `x`."""
        return keras.random.uniform((keras.ops.shape(x)[0], 1, 1, 1), seed=self.noise_seed_generator)

    def _critic_losses(self, x, training):
        fake = self.generator(self._draw_noise(x), training=training)
        real_scores = self.discriminator(x, training=training)
        fake_scores = self.discriminator(fake, training=training)
        wasserstein = keras.ops.mean(fake_scores) - keras.ops.mean(real_scores)
        mix = self._draw_mix(x)
        mixed = mix * x + (1.0 - mix) * fake
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            mixed_scores = self.discriminator(mixed, training=training)
        gradients = tape.gradient(mixed_scores, mixed)
        norms = keras.ops.sqrt(keras.ops.sum(keras.ops.square(gradients), axis=(1, 2, 3)) + 1e-12)
        penalty = keras.ops.mean(keras.ops.square(norms - 1.0))
        drift = keras.ops.mean(keras.ops.square(real_scores))
        loss = wasserstein + self.gradient_penalty_weight * penalty + self.drift_weight * drift
        return loss, penalty

    def _generator_losses(self, x, training):
        fake = self.generator(self._draw_noise(x), training=training)
        generator_loss = -keras.ops.mean(self.discriminator(fake, training=training))
        fixed = keras.ops.stop_gradient(fake)
        recovered = self.generator(self.encoder(fixed, training=training), training=training)
        encoder_loss = keras.ops.mean(keras.ops.abs(fixed - recovered))
        return generator_loss, encoder_loss

    def _critic_phase_losses(self, x, training):
        critic_loss, penalty = self._critic_losses(keras.ops.cast(x, "float32"), training)
        return {"d_loss": critic_loss, "d_gp": penalty}

    def _generator_phase_losses(self, x, training):
        generator_loss, encoder_loss = self._generator_losses(x, training)
        return {"g_loss": generator_loss, "e_loss": encoder_loss}

    def training_phases(self):
        """`critic_steps` critic updates, then one update of the generator
        optimizer: G on `g_loss` (it learns from the critic only) and E on `e_loss`
        (from the inversion loss only)."""
        critic = Phase(self._critic_phase_losses, (
            Update(self.discriminator_optimizer, (("d_loss", self.discriminator_variables),)),
        ))
        generator = Phase(self._generator_phase_losses, (
            Update(self.optimizer, (
                ("g_loss", self.generator.trainable_variables),
                ("e_loss", self.encoder.trainable_variables),
            )),
        ))
        return (critic,) * self.critic_steps + (generator,)

    def _step_losses(self, x, training):
        return {**self._critic_phase_losses(x, training), **self._generator_phase_losses(x, training)}

    # ------------------------------------------------------------------- scoring

    def image_terms(self, x):
        """The simultaneous-encoder model's per-image score terms.

        Args:
            x: a float batch in [-1, 1], shape `(batch, size, size, channels)`.

        Returns:
            `(x_hat, terms)`: G(E(x)), and a dict of per-image terms "latent_norm"
            (`||E(x)|| / sqrt(nz)`) and "residual" (`mean|x - G(E(x))|`), each of shape
            `(batch,)`; float32, computed in inference mode.
        """
        x_hat, code = self.reconstruction_outputs(x)
        x, x_hat, code = as_float32(x, x_hat, code)
        return x_hat, {
            "latent_norm": keras.ops.sqrt(keras.ops.sum(keras.ops.square(code), axis=-1))
            / (float(self.latent_size) ** 0.5),
            "residual": keras.ops.mean(keras.ops.abs(x - x_hat), axis=(1, 2, 3)),
        }
