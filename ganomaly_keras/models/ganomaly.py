"""GANomaly (Akcay, Atapour-Abarghouei, Breckon, ACCV 2018) as a Keras 3 model.

The training step (DESIGN.md section 2) lives in `GANomaly.train_step`; the networks in
`ganomaly_keras.networks`; the score in `ganomaly_keras.scoring`.
"""

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras import calibration, inputs, scoring
from ganomaly_keras.networks import Discriminator, Generator


def default_optimizer(name):
    """Adam as in the reference: lr 2e-4, beta_1 0.5, beta_2 0.999."""
    return keras.optimizers.Adam(
        learning_rate=2e-4, beta_1=0.5, beta_2=0.999, name=name
    )


def _optimizer_or_default(optimizer, default_name):
    """`optimizer` (an instance, name or config) resolved, or the reference Adam."""
    if optimizer is None:
        return default_optimizer(default_name)
    return keras.optimizers.get(optimizer)


def _num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


def _sum_across_replicas(value):
    """The sum of `value` over replicas inside `strategy.run`; `value` elsewhere."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class GANomaly(keras.Model):
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
        score: `"latent_mse"` (default) or `"latent_l1"`, see `ganomaly_keras.scoring`.
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
        super().__init__(**kwargs)
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
        self.adversarial_weight = float(adversarial_weight)
        self.contextual_weight = float(contextual_weight)
        self.encoder_weight = float(encoder_weight)
        self.score = scoring.validate_score_name(score)
        self.discriminator_reset_threshold = float(discriminator_reset_threshold)
        self.sync_batchnorm = bool(sync_batchnorm)
        self.seed = seed

        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("g_loss", "g_adv", "g_con", "g_enc", "d_loss")
        }
        self.reinit_tracker = keras.metrics.Sum(name="d_reinit")
        self.discriminator_optimizer = None
        self.build((None, self.image_size, self.image_size, self.channels))

    # ------------------------------------------------------------------ building

    def build(self, input_shape):
        self.generator.build(input_shape)
        self.discriminator.build(input_shape)
        # Score scaling and threshold, fitted by `calibrate` on validation data and
        # saved with the model; `calibrated` is 0 until then.
        self.calibration_values = {
            name: self.add_weight(
                shape=(), initializer="zeros", trainable=False, name=name
            )
            for name in ("score_min", "score_max", "threshold", "calibrated")
        }
        self.built = True

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)

    @property
    def metrics(self):
        return list(self.trackers.values()) + [self.reinit_tracker]

    # ----------------------------------------------------------------- compiling

    def compile(
        self,
        generator_optimizer=None,
        discriminator_optimizer=None,
        **kwargs,
    ):
        """Set up training; with no arguments, the reference's two Adam optimizers.

        Args:
            generator_optimizer: optimizer (or its name / config) of G_E, G_D and E.
                It becomes `model.optimizer`, whose step counter TensorBoard uses.
            discriminator_optimizer: optimizer (or its name / config) of D.
            **kwargs: passed to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, `run_eagerly`). GANomaly computes its own
                losses: `loss`, `metrics` and `loss_weights` are not accepted (the
                loss weights are constructor arguments).
        """
        for forbidden in ("loss", "metrics", "loss_weights", "weighted_metrics"):
            if kwargs.get(forbidden) is not None:
                raise ValueError(
                    f"GANomaly.compile() does not take `{forbidden}`: the model "
                    "computes its own losses. Set adversarial_weight, "
                    "contextual_weight and encoder_weight in the constructor."
                )
        if "optimizer" in kwargs:
            raise ValueError(
                "GANomaly has two optimizers: pass generator_optimizer= and "
                "discriminator_optimizer= instead of optimizer=."
            )
        generator_optimizer = _optimizer_or_default(generator_optimizer, "generator_adam")
        discriminator_optimizer = _optimizer_or_default(
            discriminator_optimizer, "discriminator_adam"
        )
        if generator_optimizer is discriminator_optimizer:
            raise ValueError(
                "generator_optimizer and discriminator_optimizer must be two "
                "different optimizer objects."
            )
        super().compile(optimizer=generator_optimizer, **kwargs)
        self.discriminator_optimizer = discriminator_optimizer
        self._extra_compile_args = {
            k: kwargs[k]
            for k in ("jit_compile", "steps_per_execution", "run_eagerly")
            if k in kwargs
        }
        # Both optimizers are built here, outside any traced function: an optimizer
        # first built inside the train step cannot create its variables under a
        # tf.distribute strategy, and `model.optimizer` must hold G's variables only.
        self.build_optimizers()

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {
            "generator_optimizer": keras.optimizers.serialize(self.optimizer),
            "discriminator_optimizer": keras.optimizers.serialize(
                self.discriminator_optimizer
            ),
            **self._extra_compile_args,
        }

    def compile_from_config(self, config):
        config = dict(config)
        self.compile(
            generator_optimizer=keras.optimizers.deserialize(
                config.pop("generator_optimizer")
            ),
            discriminator_optimizer=keras.optimizers.deserialize(
                config.pop("discriminator_optimizer")
            ),
            **config,
        )

    def build_optimizers(self):
        """Create both optimizers' variables, so that saved optimizer state can load
        into them and distributed training can update them."""
        if not self.optimizer.built:
            self.optimizer.build(self.generator.trainable_variables)
        if not self.discriminator_optimizer.built:
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    # ------------------------------------------------------------------- scoring

    def call(self, x, training=False):
        """Anomaly scores of `x`, shape `(batch,)`, always in inference mode.

        `training` is accepted for Keras' sake and ignored: a score computed with
        batch statistics would depend on the rest of the batch.
        """
        del training
        x = inputs.check_images(x, self.image_size, self.channels)
        _, z, z_hat = self.generator(x, training=False)
        return scoring.latent_score(
            keras.ops.cast(z, "float32"), keras.ops.cast(z_hat, "float32"), self.score
        )

    def anomaly_outputs(self, x):
        """Scores and per-pixel anomaly maps of a batch, in inference mode.

        The graph that export serves. `x` must already be float in [-1, 1].

        Returns:
            dict: `anomaly_score` `(batch,)` float32 and `anomaly_map`
            `(batch, image_size, image_size)` float32, the absolute residual
            `|x - G(x)|` averaged over channels.
        """
        x_hat, z, z_hat = self.generator(x, training=False)
        x, x_hat, z, z_hat = (keras.ops.cast(t, "float32") for t in (x, x_hat, z, z_hat))
        return {
            "anomaly_score": scoring.latent_score(z, z_hat, self.score),
            "anomaly_map": keras.ops.mean(keras.ops.abs(x - x_hat), axis=-1),
        }

    def calibrate(self, x, y=None, contamination=0.01, batch_size=256):
        """Fit score scaling and the decision threshold on validation data.

        Never calibrate on the test split. With `y` (1 = anomaly) the threshold
        maximises F1; without, `x` must be normal images and the threshold flags about
        a fraction `contamination` of them. The scaling maps the validation scores'
        range to [0, 1]. Both are stored in the model and saved with it.

        Returns:
            a `ganomaly_keras.calibration.Calibration`.
        """
        scores = self.predict(x, batch_size=batch_size, verbose=0)
        fitted = calibration.fit_calibration(scores, y, contamination)
        for name, value in fitted._asdict().items():
            self.calibration_values[name].assign(value)
        self.calibration_values["calibrated"].assign(1.0)
        return fitted

    @property
    def calibration(self):
        """The stored `Calibration`, or None before `calibrate`."""
        values = {k: float(v.numpy()) for k, v in self.calibration_values.items()}
        if not values.pop("calibrated"):
            return None
        return calibration.Calibration(**values)

    def _require_calibration(self):
        fitted = self.calibration
        if fitted is None:
            raise ValueError(
                "this model has no threshold yet: call model.calibrate(validation_x) "
                "(normal images) or model.calibrate(validation_x, validation_y) first."
            )
        return fitted

    def normalized_score(self, x, batch_size=256):
        """Scores scaled to [0, 1] with the stored calibration, as a NumPy array."""
        fitted = self._require_calibration()
        scores = self.predict(x, batch_size=batch_size, verbose=0)
        span = max(fitted.score_max - fitted.score_min, 1e-12)
        return np.clip((scores - fitted.score_min) / span, 0.0, 1.0)

    def predict_anomaly(self, x, batch_size=256):
        """Decisions with the stored threshold: 1 = anomaly, 0 = normal."""
        fitted = self._require_calibration()
        scores = self.predict(x, batch_size=batch_size, verbose=0)
        return (scores > fitted.threshold).astype(np.int64)

    def reconstruct(self, x, batch_size=256):
        """Reconstructions `G_D(G_E(x))` in inference mode, as a NumPy array."""
        return self._predict_generator(x, batch_size)[0]

    def latent_codes(self, x, batch_size=256):
        """The codes `(z, z_hat)` in inference mode, as NumPy arrays."""
        _, z, z_hat = self._predict_generator(x, batch_size)
        return z, z_hat

    def _predict_generator(self, x, batch_size):
        if isinstance(x, tf.data.Dataset):
            batches = x.map(lambda *batch: batch[0])  # a batched dataset of x or (x, y)
        else:
            x = inputs.check_images(x, self.image_size, self.channels)
            batches = tf.data.Dataset.from_tensor_slices(x).batch(batch_size)
        outputs = [self._generator_inference(batch) for batch in batches]
        return tuple(
            keras.ops.convert_to_numpy(keras.ops.concatenate(parts, axis=0))
            for parts in zip(*outputs)
        )

    @tf.function(reduce_retracing=True)
    def _generator_inference(self, x):
        x = inputs.check_images(x, self.image_size, self.channels)
        return self.generator(x, training=False)

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
        real_bce = keras.ops.mean(
            keras.ops.binary_crossentropy(
                keras.ops.ones_like(real_logits), real_logits, from_logits=True
            )
        )
        fake_bce = keras.ops.mean(
            keras.ops.binary_crossentropy(
                keras.ops.zeros_like(fake_logits), fake_logits, from_logits=True
            )
        )
        discriminator = 0.5 * (real_bce + fake_bce)
        return {
            "g_loss": generator,
            "g_adv": adversarial,
            "g_con": contextual,
            "g_enc": encoder,
            "d_loss": discriminator,
        }

    def _update_trackers(self, losses):
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name])

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = inputs.check_images(x, self.image_size, self.channels, "training images")
        generator_variables = self.generator.trainable_variables
        discriminator_variables = self.discriminator.trainable_variables
        # Each replica's gradients are summed across replicas by the optimizers, so
        # each replica's mean loss is divided by the number of replicas.
        replicas = _num_replicas()
        with tf.GradientTape(persistent=True) as tape:
            losses = self._step_losses(x, training=True)
            generator_loss = losses["g_loss"] / replicas
            discriminator_loss = losses["d_loss"] / replicas
        generator_gradients = tape.gradient(generator_loss, generator_variables)
        discriminator_gradients = tape.gradient(
            discriminator_loss, discriminator_variables
        )
        del tape
        self.optimizer.apply_gradients(zip(generator_gradients, generator_variables))
        self.discriminator_optimizer.apply_gradients(
            zip(discriminator_gradients, discriminator_variables)
        )
        self._update_trackers(losses)
        if self.discriminator_reset_threshold > 0:
            collapsed = (
                _sum_across_replicas(discriminator_loss)
                < self.discriminator_reset_threshold
            )
            self._reinitialize_discriminator(collapsed)
            self.reinit_tracker.update_state(
                keras.ops.cast(collapsed, "float32") / replicas
            )
        return {m.name: m.result() for m in self.metrics}

    def _reinitialize_discriminator(self, collapsed):
        """Where `collapsed`, fresh D weights and a fresh D optimizer state (the
        reference forgets the latter); elsewhere nothing changes."""
        self.discriminator.reinitialize(collapsed)
        learning_rate = getattr(self.discriminator_optimizer, "_learning_rate", None)
        for variable in self.discriminator_optimizer.variables:
            if variable is not learning_rate:
                variable.assign(
                    keras.ops.where(collapsed, keras.ops.zeros_like(variable), variable)
                )

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = inputs.check_images(x, self.image_size, self.channels, "validation images")
        self._update_trackers(self._step_losses(x, training=False))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

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
            score=self.score,
            discriminator_reset_threshold=self.discriminator_reset_threshold,
            sync_batchnorm=self.sync_batchnorm,
            seed=self.seed,
        )
        return config
