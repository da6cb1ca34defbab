"""The contract every detector of the family meets, and what it gets for it.

`AdversarialDetector` is an abstract base class. It takes the shared constructor
arguments and owns `get_config` (derived from the constructors' signatures) and the
two optimizers; its mixins add the training step
(`ganomaly_keras.models.training_step`), the scores
(`ganomaly_keras.scoring.detector_scores`: paper scores as weighted sums of named
per-image terms, anomaly maps, tiling) and the decision API
(`ganomaly_keras.scoring.decisions`: calibration, `normalized_score`,
`predict_anomaly`).

A family member supplies, and Python refuses to instantiate one that does not:

- `_step_losses(x, training)`: the losses of one forward pass, a dict holding at
  least "g_loss" and "d_loss" (what the default training phase updates on);
- `image_terms(x)`: `(x_hat, {term: (batch,)})`, its per-image score terms;
- `term_definitions`: `{term: what it computes, in words}`;
- `paper_score_weights`: `{score: ((weight, term), ...)}`, the default score first;

and its networks as `self.generator` and `self.discriminator` (built by
`build_networks`). `fit`, the callbacks, calibration and export then work unchanged.
"""

import abc
import inspect

import keras

from ganomaly_keras import arguments
from ganomaly_keras.backend import require_tensorflow_backend, warn_if_slow_defaults
from ganomaly_keras.models.training_step import TrainingStep
from ganomaly_keras.networks.layers import validate_image_size
from ganomaly_keras.scoring import tiling
from ganomaly_keras.scoring.decisions import DecisionMixin
from ganomaly_keras.scoring.detector_scores import ScoreTermsMixin
from ganomaly_keras.scoring.normal_statistics import NormalStatisticsMixin

require_tensorflow_backend()


def default_optimizer(name):
    """Adam as in the reference: lr 2e-4, beta_1 0.5, beta_2 0.999."""
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, name=name)


def constructor_parameters(cls):
    """`{name: inspect.Parameter}` of every named argument of `cls` and its bases'
    constructors, from `cls` down to `AdversarialDetector` (not keras.Model's)."""
    found = {}
    for klass in cls.__mro__:
        if klass is keras.Model:
            break
        if "__init__" not in vars(klass):
            continue
        for name, parameter in inspect.signature(klass.__init__).parameters.items():
            if name != "self" and parameter.kind not in (
                parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD
            ):
                found.setdefault(name, parameter)
    return found


class AdversarialDetector(
    TrainingStep, DecisionMixin, ScoreTermsMixin, NormalStatisticsMixin, keras.Model,
    metaclass=abc.ABCMeta,
):
    """Base class of the GAN-based detectors; not used directly.

    Train a detector on normal images only with `compile()` and `fit`. `model(x)`
    and `model.predict(x)` return one anomaly score per image (higher = more
    anomalous), always in inference mode, so a score never depends on the rest of its
    batch. Images are float tensors `(batch, size, size, channels)` in [-1, 1];
    anything else raises an error that says how to fix it.

    Args:
        image_size: int, side of the networks' square input, a power of two >= 16.
        channels: int, image channels (1 grayscale, 3 colour).
        latent_size: int, size of the latent code (100).
        width: int, base channel count of the networks (64).
        score: the score: one of the model's `paper_scores` (default: the first) or
            a map term of `ganomaly_keras.scoring.terms` ("residual_max",
            "residual_topk", "feature_max", "standardized_max", "standardized_sum").
        map_smoothing: int, side of the box filter of the map terms (3).
        working_size: optional int (a square) or `(height, width)`: the size of the
            images the model scores when larger than `image_size`: scoring then runs
            over overlapping tiles of `image_size` and assembles a working-size
            anomaly map (`ganomaly_keras.scoring.tiling`); training takes
            `image_size` patches.
        sync_batchnorm: bool, synchronise BatchNorm statistics across replicas under
            a `tf.distribute` strategy, so that distributed training computes what
            one device computes on the global batch.
        seed: optional int, seeds the model's own random draws (noise, searches,
            re-initialisation). Seed the initial weights with
            `keras.utils.set_random_seed`.
        **kwargs: passed to `keras.Model` (`name`, `dtype`).

    A subclass calls `super().__init__(**kwargs)` first, creates its networks as
    `self.generator` and `self.discriminator`, and ends its constructor with
    `self._finish_construction(loss_names)`. A format it cannot export is listed,
    with the reason, in `unsupported_export_formats`.
    """

    unsupported_export_formats = {}

    def __init__(
        self, image_size=32, channels=3, latent_size=100, width=64, score=None,
        map_smoothing=3, working_size=None, sync_batchnorm=False, seed=None, **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size = validate_image_size(image_size)
        self.channels = arguments.positive_integer("channels", channels)
        self.latent_size = arguments.positive_integer("latent_size", latent_size)
        self.width = arguments.positive_integer("width", width)
        self.score = score  # checked in _finish_construction, once terms are known
        self.map_smoothing = arguments.positive_integer("map_smoothing", map_smoothing)
        self.working_size = tiling.validate_working_size(working_size, self.image_size)
        self.sync_batchnorm = bool(sync_batchnorm)
        self.seed = None if seed is None else arguments.seed("seed", seed)
        self.discriminator_optimizer = None

    def _store_weight_options(self, **weights):
        """Each loss or score weight as an attribute, checked to be a number >= 0."""
        for name, value in weights.items():
            setattr(self, name, arguments.weight(name, value))

    @property
    def network_options(self):
        """The shape arguments every network of the model takes."""
        return dict(
            image_size=self.image_size, channels=self.channels, width=self.width,
            sync_batchnorm=self.sync_batchnorm,
        )

    def _finish_construction(self, loss_names):
        """Check the score, create the loss trackers and build every network."""
        if self.score is None:
            self.score = self.paper_scores[0]
        if self.score not in self.available_scores:
            raise ValueError(
                f"score must be one of {self.available_scores}; got {self.score!r}."
            )
        self.trackers = {name: keras.metrics.Mean(name=name) for name in loss_names}
        self.build((None, self.image_size, self.image_size, self.channels))
        # What Keras records as the model's input, for its default serving signature:
        # the images the model scores, which are larger than the networks' when tiling.
        self._build_shapes_dict = {
            "input_shape": (None, *self.input_hw, self.channels)
        }

    def build(self, input_shape):
        """Build the networks (`build_networks`), then the stored calibration values
        and normal statistics."""
        self.build_networks(input_shape)
        self._build_calibration()
        self._build_normal_statistics()
        self.built = True

    def build_networks(self, input_shape):
        """Build `self.generator` and `self.discriminator` for images of `input_shape`.

        Args:
            input_shape: `(batch, size, size, channels)` of the images.
        """
        self.generator.build(input_shape)
        self.discriminator.build(input_shape)

    def get_config(self):
        """Every constructor argument of the model, read from its attributes."""
        config = super().get_config()
        config.update({name: getattr(self, name) for name in constructor_parameters(type(self))})
        return config

    @property
    def image_shape(self):
        """The networks' input shape: training images or patches."""
        return (self.image_size, self.image_size, self.channels)

    @property
    def input_hw(self):
        """`(height, width)` of the images the model scores: the working size when
        tiling, else `image_size` squared."""
        return tiling.working_shape(self.working_size, self.image_size) or (self.image_size,) * 2

    @property
    def input_size(self):
        """The side of the square images the model scores (`input_hw` for any shape).

        Raises:
            ValueError: for a rectangular working size.
        """
        height, width = self.input_hw
        if height != width:
            raise ValueError(
                f"this model scores {width}x{height} images (width x height); use "
                "model.input_hw for its (height, width)."
            )
        return height

    @property
    def tiled(self):
        """Whether images of `input_hw` are scored as tiles of `image_size`."""
        return self.input_hw != (self.image_size, self.image_size)

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def generator_variables(self):
        """What the generator optimizer (`model.optimizer`) updates."""
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self):
        """What the discriminator optimizer updates."""
        return self.discriminator.trainable_variables

    def _draw_noise(self, x):
        """Latent draws N(0, 1), `(batch, 1, 1, latent_size)`, one per image of the
        real batch `x`, from the model's seeded `noise_seed_generator` (for the
        members whose training samples codes)."""
        shape = (keras.ops.shape(x)[0], 1, 1, self.latent_size)
        return keras.random.normal(shape, seed=self.noise_seed_generator)

    def _default_optimizer(self, name):
        return default_optimizer(name)

    # ----------------------------------------------------------------- compiling

    def compile(self, generator_optimizer=None, discriminator_optimizer=None, **kwargs):
        """Set up training; with no arguments, the model's two default optimizers.

        Args:
            generator_optimizer: optimizer (or its name / config) of the generator
                side. It becomes `model.optimizer`, whose step counter TensorBoard
                uses.
            discriminator_optimizer: optimizer (or its name / config) of the
                discriminator (or critic).
            **kwargs: passed to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, `run_eagerly`). The model computes its own
                losses: `loss`, `metrics` and `loss_weights` are refused (the loss
                weights are constructor arguments).
        """
        name = type(self).__name__
        for forbidden in ("loss", "metrics", "loss_weights", "weighted_metrics"):
            if kwargs.get(forbidden) is not None:
                raise ValueError(
                    f"{name}.compile() does not take `{forbidden}`: the model computes "
                    "its own losses; its loss weights are constructor arguments."
                )
        if "optimizer" in kwargs:
            raise ValueError(
                f"{name} has two optimizers: pass generator_optimizer= and "
                "discriminator_optimizer= instead of optimizer=."
            )
        generator_optimizer, discriminator_optimizer = (
            keras.optimizers.get(given) if given is not None else self._default_optimizer(default)
            for given, default in (
                (generator_optimizer, "generator_adam"),
                (discriminator_optimizer, "discriminator_adam"),
            )
        )
        if generator_optimizer is discriminator_optimizer:
            raise ValueError(
                "generator_optimizer and discriminator_optimizer must be two "
                "different optimizer objects."
            )
        super().compile(optimizer=generator_optimizer, **kwargs)
        self.discriminator_optimizer = discriminator_optimizer
        self._extra_compile_args = {
            k: kwargs[k] for k in ("jit_compile", "steps_per_execution", "run_eagerly")
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
            "discriminator_optimizer": keras.optimizers.serialize(self.discriminator_optimizer),
            **self._extra_compile_args,
        }

    def compile_from_config(self, config):
        config = dict(config)
        self.compile(
            generator_optimizer=keras.optimizers.deserialize(config.pop("generator_optimizer")),
            discriminator_optimizer=keras.optimizers.deserialize(
                config.pop("discriminator_optimizer")
            ),
            **config,
        )

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`; the first call in a process warns when TensorFlow runs
        without the kernels that make training fast on this CPU
        (`ganomaly_keras.backend.warn_if_slow_defaults`)."""
        warn_if_slow_defaults()
        return super().fit(*args, **kwargs)

    def build_optimizers(self):
        """Create both optimizers' variables, so that saved optimizer state can load
        into them and distributed training can update them."""
        if not self.optimizer.built:
            self.optimizer.build(self.generator_variables)
        if not self.discriminator_optimizer.built:
            self.discriminator_optimizer.build(self.discriminator_variables)

    # ------------------------------------------------------------------ contract

    @abc.abstractmethod
    def _step_losses(self, x, training):
        """The losses of one forward pass on a batch.

        Args:
            x: a float batch in [-1, 1] of the networks' input shape.
            training: whether BatchNorm uses batch statistics (training) or its
                moving ones.

        Returns:
            dict of this replica's mean losses (float32 scalars), "g_loss" and
            "d_loss" among them, and the parts the model logs.
        """

    @abc.abstractmethod
    def image_terms(self, x):
        """The model's per-image score terms of a batch, in inference mode.

        Args:
            x: a float batch in [-1, 1] of the networks' input shape.

        Returns:
            `(x_hat, terms)`: the reconstructions and `{term: (batch,) float32}`.
        """

    @property
    @abc.abstractmethod
    def term_definitions(self):
        """`{term: what it computes, in words}` of every term of `image_terms`."""

    @property
    @abc.abstractmethod
    def paper_score_weights(self):
        """`{score: ((weight, term), ...)}`: the paper's scores as weighted sums of
        `image_terms`, the default score first."""
