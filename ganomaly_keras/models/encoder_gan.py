"""Simultaneous encoder training (Berg, Ahlberg, Felsberg 2019, arXiv 1905.11034).

A GAN learns the training images; an encoder E is trained at the same time to invert
the generator on generated images, with `|G(z) - G(E(G(z)))|_1` updating E only
(DESIGN.md section 5). The paper used a progressive GAN; here it is a DCGAN-sized
WGAN-GP (the decoder of `ganomaly_keras.networks` as generator, a BatchNorm-free
critic), which trains on a 2-core CPU. Training stratifies the latent space, and the
norm of `E(x)` becomes a cue for anomalies that holds up when the training set is
contaminated with them.

Scores (higher = more anomalous), all in inference mode:

- `"latent_norm"`: `||E(x)|| / sqrt(latent_size)` (1 for a typical prior sample);
- `"residual"`: `mean |x - G(E(x))|`;
- `"combined"` (default): `(1 - latent_norm_weight) * residual + latent_norm_weight *
  latent_norm`.
"""

import keras
import tensorflow as tf

from ganomaly_keras import arguments, inputs, scoring
from ganomaly_keras.models.base import AdversarialDetector, step_logs
from ganomaly_keras.networks import Critic, Decoder, Encoder

ENCODER_GAN_SCORES = ("combined", "latent_norm", "residual")


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class SimultaneousEncoderGAN(AdversarialDetector):
    """A WGAN-GP with an encoder trained on generated images at the same time.

    Same API as `GANomaly` (`fit`, `predict`, `reconstruct`, `calibrate`,
    `predict_anomaly`, export). Each training step makes `critic_steps` critic updates
    (WGAN-GP, penalty weight `gradient_penalty_weight`), then one update of the
    generator (`-mean(C(G(z)))`) and, with the same optimizer, of the encoder
    (`mean |G(z) - G(E(G(z)))|`, G(z) held fixed, only E's weights change). Defaults
    follow WGAN-GP: Adam(1e-4, beta_1 0.5, beta_2 0.9) for both optimizers.

    Args:
        image_size: int, a power of two >= 16.
        channels: int, image channels.
        latent_size: int, size of z (100).
        width: int, base channel count of all networks (64).
        critic_steps: int, critic updates per generator update (5 in WGAN-GP).
        gradient_penalty_weight: float, lambda of the gradient penalty (10).
        score: "combined" (default), "latent_norm" or "residual".
        latent_norm_weight: float in [0, 1], weight of the latent norm in "combined".
        seed: optional int, seeds the latent and interpolation draws.

    Example:
    ```python
    model = SimultaneousEncoderGAN(image_size=32, channels=1)
    model.compile()
    model.fit(training_images, epochs=15, batch_size=64)  # may hold some anomalies
    scores = model.predict(test_images)
    ```
    """

    def __init__(
        self,
        image_size=32,
        channels=3,
        latent_size=100,
        width=64,
        critic_steps=5,
        gradient_penalty_weight=10.0,
        score="combined",
        latent_norm_weight=0.5,
        sync_batchnorm=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(score=score, **kwargs)
        if not 0 <= latent_norm_weight <= 1:
            raise ValueError(f"latent_norm_weight must be in [0, 1]; got {latent_norm_weight}.")
        shape = dict(image_size=image_size, channels=channels, width=width)
        self.generator = Decoder(
            latent_size=latent_size, sync_batchnorm=sync_batchnorm, name="generator", **shape
        )
        self.encoder = Encoder(
            latent_size=latent_size, sync_batchnorm=sync_batchnorm, name="encoder", **shape
        )
        self.discriminator = Critic(name="critic", **shape)
        self.image_size = self.encoder.image_size
        self.channels = self.encoder.channels
        self.latent_size = self.encoder.latent_size
        self.width = width
        self.critic_steps = arguments.positive_integer("critic_steps", critic_steps)
        self.gradient_penalty_weight = arguments.weight("gradient_penalty_weight", gradient_penalty_weight)
        self.latent_norm_weight = arguments.weight("latent_norm_weight", latent_norm_weight)
        self.sync_batchnorm = bool(sync_batchnorm)
        self.seed = seed
        self.noise_seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self._init_training_state(("g_loss", "e_loss", "d_loss", "d_gp"), 0.0)
        self._build_networks()

    def build(self, input_shape):
        self.encoder.build(input_shape)
        self.generator.build((input_shape[0], 1, 1, self.latent_size))
        self.discriminator.build(input_shape)
        super().build(input_shape)

    @property
    def metrics(self):
        return list(self.trackers.values())  # no discriminator re-initialisation here

    @property
    def generator_variables(self):
        return self.generator.trainable_variables + self.encoder.trainable_variables

    def _default_optimizer(self, name):
        return keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.5, beta_2=0.9, name=name)

    paper_scores = ("combined", "latent_norm", "residual")  # default first

    @property
    def paper_score_definitions(self):
        residual = "mean |x - G(E(x))|"
        norm = "||E(x)|| / sqrt(latent_size)"
        weight = self.latent_norm_weight
        return {
            "combined": f"{1 - weight} * {residual} + {weight} * {norm}",
            "latent_norm": norm,
            "residual": residual,
        }

    @property
    def feature_network(self):
        """The encoder: the WGAN critic has no BatchNorm and is not a DCGAN encoder."""
        return self.encoder

    # ------------------------------------------------------------------ training

    def _noise(self, batch):
        z = keras.random.normal((batch, 1, 1, self.latent_size), seed=self.noise_seed_generator)
        return z

    def _critic_losses(self, x, training):
        batch = keras.ops.shape(x)[0]
        fake = self.generator(self._noise(batch), training=training)
        real_scores = self.discriminator(x, training=training)
        fake_scores = self.discriminator(fake, training=training)
        wasserstein = keras.ops.mean(fake_scores) - keras.ops.mean(real_scores)
        mix = keras.random.uniform((batch, 1, 1, 1), seed=self.noise_seed_generator)
        mixed = mix * x + (1.0 - mix) * fake
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            mixed_scores = self.discriminator(mixed, training=training)
        gradients = tape.gradient(mixed_scores, mixed)
        norms = keras.ops.sqrt(keras.ops.sum(keras.ops.square(gradients), axis=(1, 2, 3)) + 1e-12)
        penalty = keras.ops.mean(keras.ops.square(norms - 1.0))
        return wasserstein + self.gradient_penalty_weight * penalty, penalty

    def _generator_losses(self, batch, training):
        fake = self.generator(self._noise(batch), training=training)
        generator_loss = -keras.ops.mean(self.discriminator(fake, training=training))
        fixed = keras.ops.stop_gradient(fake)
        recovered = self.generator(self.encoder(fixed, training=training), training=training)
        encoder_loss = keras.ops.mean(keras.ops.abs(fixed - recovered))
        return generator_loss, encoder_loss

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = inputs.check_images(x, self.image_size, self.channels, "training images")
        x = keras.ops.cast(x, "float32")
        critic_variables = self.discriminator_variables
        for _ in range(self.critic_steps):
            with tf.GradientTape() as tape:
                critic_loss, penalty = self._critic_losses(x, training=True)
            gradients = tape.gradient(critic_loss, critic_variables)
            self.discriminator_optimizer.apply_gradients(zip(gradients, critic_variables))
        generator_variables = self.generator.trainable_variables
        encoder_variables = self.encoder.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            generator_loss, encoder_loss = self._generator_losses(keras.ops.shape(x)[0], True)
        # G learns from the critic only; E from the inversion loss only.
        gradients = tape.gradient(generator_loss, generator_variables) + tape.gradient(
            encoder_loss, encoder_variables
        )
        del tape
        self.optimizer.apply_gradients(
            zip(gradients, generator_variables + encoder_variables)
        )
        self._update_trackers(
            {"g_loss": generator_loss, "e_loss": encoder_loss, "d_loss": critic_loss, "d_gp": penalty}
        )
        return step_logs(self.metrics)

    def _step_losses(self, x, training):
        x = keras.ops.cast(x, "float32")
        critic_loss, penalty = self._critic_losses(x, training)
        generator_loss, encoder_loss = self._generator_losses(keras.ops.shape(x)[0], training)
        return {"g_loss": generator_loss, "e_loss": encoder_loss, "d_loss": critic_loss, "d_gp": penalty}

    # ------------------------------------------------------------------- scoring

    def reconstruction_outputs(self, x):
        code = self.encoder(x, training=False)
        return self.generator(code, training=False), keras.ops.reshape(code, (-1, self.latent_size))

    def score_variants(self, x):
        """Every score of `ENCODER_GAN_SCORES` for float images `x`, in inference mode.

        Returns:
            `(scores, x_hat)`: a dict of `(batch,)` tensors keyed by score name, and
            the reconstructions `G(E(x))`.
        """
        x_hat, code = self.reconstruction_outputs(x)
        x, x_hat, code = (keras.ops.cast(t, "float32") for t in (x, x_hat, code))
        residual = keras.ops.mean(keras.ops.abs(x - x_hat), axis=(1, 2, 3))
        norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(code), axis=-1)) / (
            float(self.latent_size) ** 0.5
        )
        weight = self.latent_norm_weight
        scores = {
            "latent_norm": norm,
            "residual": residual,
            "combined": (1.0 - weight) * residual + weight * norm,
        }
        return scores, x_hat

    def paper_terms(self, x):
        """`(x_hat, every score of ENCODER_GAN_SCORES)` in inference mode, float32."""
        scores, x_hat = self.score_variants(x)
        return x_hat, {name: scores[name] for name in self.paper_scores}

    # ------------------------------------------------------------- serialization

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            channels=self.channels,
            latent_size=self.latent_size,
            width=self.width,
            critic_steps=self.critic_steps,
            gradient_penalty_weight=self.gradient_penalty_weight,
            latent_norm_weight=self.latent_norm_weight,
            sync_batchnorm=self.sync_batchnorm,
            seed=self.seed,
        )
        return config
