"""What every adversarially trained detector of this package shares.

Two optimizers (generator and discriminator), the one-forward training step skeleton
with discriminator re-initialisation, inference-mode scoring with every score term of
`ganomaly_keras.scoring` (tiled for images larger than the networks' input), the
stored calibration (score scaling and threshold) and the decision API. A family member
supplies its networks (`self.generator`, `self.discriminator`), `_step_losses` and
`paper_terms`; `fit`, the callbacks, calibration and export then work unchanged.
"""

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras import arguments, calibration, inputs, scoring, tiling
from ganomaly_keras.models.score_terms import ScoreTermsMixin


def default_optimizer(name):
    """Adam as in the reference: lr 2e-4, beta_1 0.5, beta_2 0.999."""
    return keras.optimizers.Adam(
        learning_rate=2e-4, beta_1=0.5, beta_2=0.999, name=name
    )


def mean_bce(target, logits):
    """Mean binary cross-entropy of logits against a target of 0s or 1s."""
    target = keras.ops.full_like(logits, target)
    return keras.ops.mean(keras.ops.binary_crossentropy(target, logits, from_logits=True))


def _num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


def _sum_across_replicas(value):
    """The sum of `value` over replicas inside `strategy.run`; `value` elsewhere."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def step_logs(metrics):
    """`{name: result}` of a train or test step's metrics.

    Under `MultiWorkerMirroredStrategy` Keras 3 reduces each log with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on the scalars every
    metric returns ("Invalid reduction dimension 0 for input with 0 dimensions");
    there each result travels as shape (1,) and comes out of that reduction a scalar.
    """
    logs = {m.name: m.result() for m in metrics}
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()
    ):
        logs = {name: tf.reshape(value, (1,)) for name, value in logs.items()}
    return logs


class AdversarialDetector(ScoreTermsMixin, keras.Model):
    """Base class of the GAN-based detectors; not used directly.

    Subclasses set `self.generator` and `self.discriminator` (the latter with a
    `reinitialize(condition)` method) and `self.image_size`, `self.channels`, call
    `self._init_training_state(loss_names, discriminator_reset_threshold)` in their
    constructor and `self._build_networks()` at its end, build their networks in
    `build` before calling `super().build`, and implement:

    - `_step_losses(x, training)`: a dict with at least "g_loss" and "d_loss" (per
      replica means) plus any components to track;
    - `paper_terms(x)`: `(x_hat, {name: (batch,)})`, the reconstruction and the
      scores of the model's paper, float32, inference mode, names as in
      `paper_scores` (the default first);
    - `feature_network`: a property giving the DCGAN `Encoder` whose first block
      defines the feature maps of `ganomaly_keras.scoring`.

    `generator(x)` must return the reconstruction first (alone or in a tuple).

    Args:
        score: the score term (see `ganomaly_keras.scoring`): one of the model's
            `paper_scores` (default: the first) or a map term ("residual_max",
            "residual_topk", "feature_max", "standardized_max", "standardized_sum").
        map_smoothing: int, side of the box filter of the map terms (3).
        working_size: optional int, the side of the images the model scores when it
            is larger than `image_size`: scoring then runs over overlapping tiles of
            `image_size` and assembles a working-size anomaly map
            (`ganomaly_keras.tiling`); training takes `image_size` patches.
        **kwargs: passed to `keras.Model`.

    A subclass that cannot produce some export format lists it, with the reason, in
    `unsupported_export_formats`; `export_model` refuses such a format with that reason.
    """

    unsupported_export_formats = {}
    # The scores of the model's paper, default first; subclasses override.
    paper_scores = ("paper",)
    paper_score_definitions = {}

    def __init__(self, score=None, map_smoothing=3, working_size=None, **kwargs):
        super().__init__(**kwargs)
        self.working_size = working_size  # validated in build, once image_size is known
        self.score = scoring.validate_score_name(
            score if score is not None else self.paper_scores[0], self.available_scores
        )
        self.map_smoothing = arguments.positive_integer("map_smoothing", map_smoothing)

    def _init_training_state(self, loss_names, discriminator_reset_threshold):
        self.trackers = {name: keras.metrics.Mean(name=name) for name in loss_names}
        self.reinit_tracker = keras.metrics.Sum(name="d_reinit")
        self.discriminator_reset_threshold = arguments.number(
            "discriminator_reset_threshold", discriminator_reset_threshold, minimum=0.0
        )
        self.discriminator_optimizer = None

    def build(self, input_shape):
        self.working_size = tiling.validate_working_size(self.working_size, self.image_size)
        # Score scaling and threshold, fitted by `calibrate` on validation data and
        # saved with the model; `calibrated` is 0 until then.
        self.calibration_values = {
            name: self.add_weight(
                shape=(), initializer="zeros", trainable=False, name=name
            )
            for name in ("score_min", "score_max", "threshold", "calibrated")
        }
        self._build_normal_statistics()
        self.built = True

    def _build_networks(self):
        """Build every network for `image_size` inputs (the end of a constructor)."""
        self.build((None, self.image_size, self.image_size, self.channels))
        # What Keras records as the model's input, for its default serving signature:
        # the images the model scores, which are larger than the networks' when tiling.
        self._build_shapes_dict = {
            "input_shape": (None, self.input_size, self.input_size, self.channels)
        }

    @property
    def image_shape(self):
        """The networks' input shape: training images or patches."""
        return (self.image_size, self.image_size, self.channels)

    @property
    def input_size(self):
        """The side of the images the model scores: `working_size` when tiling,
        else `image_size`."""
        return self.working_size or self.image_size

    @property
    def tiled(self):
        return self.input_size != self.image_size

    @property
    def metrics(self):
        return list(self.trackers.values()) + [self.reinit_tracker]

    @property
    def generator_variables(self):
        """What the generator optimizer (`model.optimizer`) updates."""
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self):
        """What the discriminator optimizer updates."""
        return self.discriminator.trainable_variables

    def reconstruction_outputs(self, x):
        """The generator's outputs for `x` in inference mode, reconstruction first."""
        return self.generator(x, training=False)

    def _default_optimizer(self, name):
        return default_optimizer(name)

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
        generator_optimizer = (
            keras.optimizers.get(generator_optimizer)
            if generator_optimizer is not None
            else self._default_optimizer("generator_adam")
        )
        discriminator_optimizer = (
            keras.optimizers.get(discriminator_optimizer)
            if discriminator_optimizer is not None
            else self._default_optimizer("discriminator_adam")
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
            self.optimizer.build(self.generator_variables)
        if not self.discriminator_optimizer.built:
            self.discriminator_optimizer.build(self.discriminator_variables)

    # ------------------------------------------------------------------- scoring

    def call(self, x, training=False):
        """Anomaly scores of `x`, shape `(batch,)`, always in inference mode.

        `training` is accepted for Keras' sake and ignored: a score computed with
        batch statistics would depend on the rest of the batch.
        """
        del training
        x = inputs.check_images(x, self.input_size, self.channels)
        return self.anomaly_outputs(x)["anomaly_score"]

    def calibrate(self, x, y=None, contamination=0.01, batch_size=256):
        """Fit score scaling and the decision threshold on validation data.

        Never calibrate on the test split. With `y` (1 = anomaly) the threshold
        maximises F1; without, `x` must be normal images and the threshold flags about
        a fraction `contamination` of them. The scaling maps the validation scores'
        range to [0, 1]. Both are stored in the model and saved with it. A model
        whose score is standardised needs `fit_normal_statistics` (on normal
        training images) first.

        Args:
            x: validation images, float in [-1, 1].
            y: optional labels, 1 = anomaly, 0 = normal.
            contamination: without `y`, the fraction of `x` to flag.
            batch_size: images per forward pass.

        Returns:
            a `ganomaly_keras.calibration.Calibration`.
        """
        if self.score.startswith("standardized") and not self.statistics_fitted:
            raise ValueError(
                f"score {self.score!r} is standardised by statistics of normal images, "
                "which are not fitted yet: call model.fit_normal_statistics("
                "normal_training_images) before calibrate."
            )
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
        """Reconstructions `G(x)` in inference mode, as a NumPy array (assembled from
        the tiles, averaged where they overlap, for a tiled model)."""
        if not self.tiled:
            return self._predict_generator(x, batch_size)[0]
        x = inputs.check_images(x, self.input_size, self.channels)
        return np.concatenate([
            keras.ops.convert_to_numpy(self._tiled_reconstruction(batch))
            for batch in tf.data.Dataset.from_tensor_slices(x).batch(batch_size)
        ])

    @tf.function(reduce_retracing=True)
    def _tiled_reconstruction(self, x):
        tiles = tiling.extract_tiles(keras.ops.cast(x, "float32"), self.input_size, self.image_size)
        x_hat, _ = self.paper_terms(tiles)
        return tiling.assemble(keras.ops.cast(x_hat, "float32"), self.input_size, self.image_size)

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
        outputs = self.reconstruction_outputs(x)
        return outputs if isinstance(outputs, (tuple, list)) else (outputs,)

    # ------------------------------------------------------------------ training

    def _update_trackers(self, losses):
        for name, tracker in self.trackers.items():
            if name in losses:
                tracker.update_state(losses[name])

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = inputs.check_images(x, self.image_size, self.channels, "training images")
        generator_variables = self.generator_variables
        discriminator_variables = self.discriminator_variables
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
        return step_logs(self.metrics)

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

    def get_config(self):
        config = super().get_config()
        config.update(
            score=self.score, map_smoothing=self.map_smoothing, working_size=self.working_size
        )
        return config

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = inputs.check_images(x, self.image_size, self.channels, "validation images")
        self._update_trackers(self._step_losses(x, training=False))
        return step_logs(self.trackers.values())

