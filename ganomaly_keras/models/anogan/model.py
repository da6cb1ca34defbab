"""AnoGAN (Schlegl et al., IPMI 2017): a DCGAN, and a search for each image's latent code.

One of the GANomaly paper's baselines (as in that paper). Training is a plain DCGAN
on normal images: the decoder of `ganomaly_keras.networks` generates, GANomaly's
discriminator judges (D: `0.5 * (BCE(D(x), 1) + BCE(D(G(z)), 0))`, G: `BCE(D(G(z)), 1)`).

Scoring searches, for every image on its own, the code z whose generated image is
closest: `search_steps` Adam steps (learning rate `search_learning_rate`) from one fixed
draw z0 of the prior
on `(1 - discrimination_weight) * mean |x - G(z)| + discrimination_weight *
mean |f(x) - f(G(z))|`, f = D's last 4x4 feature map (lambda = 0.1 in the paper). The
score is that loss at the end. The search starts from the same z for every image and
each image's loss involves only its own z, so a score never depends on the batch.
The search, gradients included, is part of the exported graph: the SavedModel and the
float32, float16 and dynamic-range TFLite models run all `search_steps` steps (see
`search_forward`). Full-integer (int8) TFLite is refused with the reason.
"""

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras import arguments
from ganomaly_keras.models.base import AdversarialDetector
from ganomaly_keras.models.losses import as_float32, discriminator_bce, mean_bce
from ganomaly_keras.networks import Decoder, Discriminator


def search_forward(layers, x):
    """`layers` applied in inference mode, with ReLU and LeakyReLU written as maxima.

    Same values as the layers' own activations; the difference is the gradient graph:
    TensorFlow differentiates `relu` with `ReluGrad` and `leaky_relu` with
    `LeakyReluGrad`, which LiteRT has no builtin kernels for, while the gradient of a
    maximum is a comparison and a select, which it has. So the latent search, gradients
    included, exports to a builtins-only TFLite graph.
    """
    for layer in layers:
        plain_relu = isinstance(layer, keras.layers.ReLU) and (
            layer.max_value is None and not layer.threshold and not layer.negative_slope
        )
        if plain_relu:
            x = keras.ops.maximum(x, keras.ops.zeros_like(x))
        elif isinstance(layer, keras.layers.LeakyReLU):
            x = keras.ops.maximum(x, layer.negative_slope * x)
        else:
            x = layer(x, training=False)
    return x


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class AnoGAN(AdversarialDetector):
    """AnoGAN with the package's `fit`/`predict`/`calibrate` API.

    Args:
        discrimination_weight: float in [0, 1], lambda of the search loss (0.1).
        search_steps: int, Adam steps of the latent search per image (100).
        search_learning_rate: float, learning rate of the search (0.05).
        **kwargs: the shared arguments of `AdversarialDetector`: `image_size`,
            `channels`, `latent_size` (size of z, 100), `width` (64), `score`
            ("paper", the search loss, by default, or a map term such as
            "residual_max"), `map_smoothing`, `working_size`, `sync_batchnorm`,
            `seed` (seeds the latent draws of training and the search's start).

    Example:
    ```python
    model = AnoGAN(image_size=32, channels=1, search_steps=50)
    model.compile()  # a plain DCGAN: G against D
    model.fit(normal_images, epochs=15, batch_size=64)
    scores = model.predict(test_images)  # 50 search steps per image
    ```
    """

    unsupported_export_formats = {
        "tflite_int8": (
            "AnoGAN's score is a latent search with gradients inside, and TensorFlow's "
            "converter cannot quantize that loop to full integer; use tflite_dynamic "
            "(int8 weights) for a small AnoGAN model."
        )
    }

    def __init__(
        self, *, discrimination_weight=0.1, search_steps=100, search_learning_rate=0.05,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.discrimination_weight = arguments.number(
            "discrimination_weight", discrimination_weight, minimum=0.0, maximum=1.0
        )
        self.search_steps = arguments.positive_integer("search_steps", search_steps)
        self.search_learning_rate = arguments.number(
            "search_learning_rate", search_learning_rate, minimum=0.0, exclusive_minimum=True
        )
        self.generator = Decoder(
            latent_size=self.latent_size, name="generator", **self.network_options
        )
        self.discriminator = Discriminator(
            seed=self.seed, name="discriminator", **self.network_options
        )
        self.noise_seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")
        self._finish_construction(("g_loss", "d_loss"))

    def build_networks(self, input_shape):
        """Build the generator (from a 1 x 1 x latent_size code) and the discriminator for
        images of `input_shape`.

        Args:
            input_shape: `(batch, size, size, channels)` of the images.
        """
        self.generator.build((input_shape[0], 1, 1, self.latent_size))
        self.discriminator.build(input_shape)

    @property
    def term_definitions(self):
        """`{"search_loss": its definition}` with this model's search steps and weight."""
        weight = self.discrimination_weight
        return {"search_loss": (
            f"after {self.search_steps} Adam steps on z from a fixed z0: {1 - weight:g} * "
            f"mean |x - G(z)| + {weight:g} * mean |f(x) - f(G(z))|"
        )}

    paper_score_weights = {"paper": ((1, "search_loss"),)}

    # ------------------------------------------------------------------ training

    def _step_losses(self, x, training):
        z = self._draw_noise(x)
        fake = self.generator(z, training=training)
        real_logits, _ = self.discriminator(x, training=training)
        fake_logits, _ = self.discriminator(fake, training=training)
        real_logits, fake_logits = as_float32(real_logits, fake_logits)
        return {
            "g_loss": mean_bce(1.0, fake_logits),
            "d_loss": discriminator_bce(real_logits, fake_logits),
        }

    # ------------------------------------------------------------------- scoring

    def _search_loss(self, x, real_features, z):
        """Per-image search loss `(batch,)` and the generated images."""
        generated = keras.ops.cast(search_forward(self.generator.blocks, z), "float32")
        features = search_forward(self.discriminator.body.feature_blocks, generated)
        residual = keras.ops.mean(keras.ops.abs(x - generated), axis=(1, 2, 3))
        discrimination = keras.ops.mean(
            keras.ops.abs(real_features - keras.ops.cast(features, "float32")), axis=(1, 2, 3)
        )
        weight = self.discrimination_weight
        return (1.0 - weight) * residual + weight * discrimination, generated

    def _search_start(self):
        """z0 `(1, 1, 1, latent_size)`: one draw of N(0, 1) fixed by `seed` (a constant
        in the graph, so the exported search needs no random-number ops)."""
        draw = np.random.default_rng(self.seed or 0).standard_normal(self.latent_size)
        return tf.constant(draw.reshape(1, 1, 1, -1), tf.float32)

    def search_latent(self, x):
        """The latent codes the search finds for a batch.

        Args:
            x: a float batch in [-1, 1] of the networks' input shape.

        Returns:
            `(batch, 1, 1, latent_size)` codes after `search_steps` Adam steps.
        """
        x = keras.ops.cast(x, "float32")
        return self._search(x, self._real_features(x))

    def _real_features(self, x):
        _, real_features = self.discriminator(x, training=False)
        return keras.ops.cast(real_features, "float32")

    def _search(self, x, real_features):
        """`search_steps` Adam steps on z for float32 images `x` with D's `real_features`."""
        batch = tf.shape(x)[0]
        # One fixed prior draw, the same start for every image (z = 0 would sit on
        # the ReLUs' kinks of an untrained generator, where gradients vanish).
        z = tf.tile(self._search_start(), (batch, 1, 1, 1))
        beta_1, beta_2, epsilon = 0.9, 0.999, 1e-8
        rate = self.search_learning_rate

        def step(i, z, m, v):
            with tf.GradientTape() as tape:
                tape.watch(z)
                loss, _ = self._search_loss(x, real_features, z)
                total = tf.reduce_sum(loss)  # each z only affects its own image's loss
            gradient = tape.gradient(total, z)
            m = beta_1 * m + (1 - beta_1) * gradient
            v = beta_2 * v + (1 - beta_2) * tf.square(gradient)
            t = tf.cast(i + 1, tf.float32)
            m_hat = m / (1 - beta_1**t)
            v_hat = v / (1 - beta_2**t)
            return i + 1, z - rate * m_hat / (tf.sqrt(v_hat) + epsilon), m, v

        _, z, _, _ = tf.while_loop(
            lambda i, *_: i < self.search_steps,
            step,
            (tf.constant(0), z, tf.zeros_like(z), tf.zeros_like(z)),
        )
        return z

    def reconstruction_outputs(self, x):
        """The reconstruction through the latent search, G(z*), in inference mode.

        Args:
            x: a float batch in [-1, 1] of the networks' input shape.

        Returns:
            `(x_hat, code)`: the reconstructed batch and the latent codes,
            shape `(batch, latent_size)`.
        """
        z = self.search_latent(x)
        return self.generator(z, training=False), keras.ops.reshape(z, (-1, self.latent_size))

    def image_terms(self, x):
        """AnoGAN's per-image score: the latent search, then its loss.

        Args:
            x: a float batch in [-1, 1], shape `(batch, size, size, channels)`.

        Returns:
            `(x_hat, terms)`: G(z*) for the searched code z*, and a dict of per-image
            terms "search_loss" (the search's final loss), each of shape `(batch,)`;
            float32, computed in inference mode.
        """
        x = keras.ops.cast(x, "float32")
        real_features = self._real_features(x)  # once, for the search and the score
        z = self._search(x, real_features)
        score, generated = self._search_loss(x, real_features, z)
        return generated, {"search_loss": score}
