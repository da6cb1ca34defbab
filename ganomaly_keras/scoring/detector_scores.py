"""The score API every detector shares (`AdversarialDetector` mixes it in).

A detector declares its paper's scores as weighted sums of named per-image terms:

- `image_terms(x)`: `(x_hat, {term: (batch,)})`, float32, inference mode;
- `term_definitions`: `{term: what it computes, in words}`;
- `paper_score_weights`: `{score: ((weight, term), ...)}`, the default score first.

From these three this mixin derives the paper scores (`paper_terms`), every score's
definition (`score_definition`, which the metadata and the model card print), the
names a model accepts (`available_scores`: its paper scores, then the map terms of
`ganomaly_keras.scoring.terms`), the scores and anomaly maps for whole images or over tiles
of images larger than the networks' input (`ganomaly_keras.scoring.tiling`), and
`with_score`, a copy of a model that scores with another term. The standardised
terms' statistics of normal images are `ganomaly_keras.scoring.normal_statistics`.
"""

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras.models import inputs
from ganomaly_keras.scoring import terms as scoring_terms
from ganomaly_keras.scoring import tiling


class ScoreTermsMixin:
    """Score terms, anomaly maps and reconstructions of a detector."""

    def call(self, x, training=False):
        """Anomaly scores of `x`, shape `(batch,)`, always in inference mode.

        `training` is accepted for Keras' sake and ignored: a score computed with
        batch statistics would depend on the rest of the batch.
        """
        del training
        x = inputs.check_images(x, self.input_hw, self.channels)
        return self.anomaly_outputs(x)["anomaly_score"]

    @property
    def tiles_per_image(self):
        """How many network inputs one image is: its tiles, or 1."""
        return len(tiling.tile_offsets(self.input_hw, self.image_size)) if self.tiled else 1

    def images_per_pass(self, batch_size):
        """Images per forward pass for `batch_size` network inputs per pass: a tiled
        image is `tiles_per_image` inputs, so memory stays bounded by `batch_size`."""
        return max(1, int(batch_size) // self.tiles_per_image)

    def predict(self, x, batch_size=None, **kwargs):
        """`keras.Model.predict` of the scores, `batch_size` counting network inputs
        (tiles of a tiled model) per forward pass (default 32)."""
        if batch_size is not None or not isinstance(x, tf.data.Dataset):
            batch_size = self.images_per_pass(batch_size or 32)
        return super().predict(x, batch_size=batch_size, **kwargs)

    @property
    def paper_scores(self):
        """The names of the paper's scores, the default first."""
        return tuple(self.paper_score_weights)

    def paper_terms(self, x):
        """The paper's scores of a batch, in inference mode.

        Args:
            x: a float batch in [-1, 1] of the networks' input shape.

        Returns:
            `(x_hat, {paper score: (batch,)})`: the reconstructions and each score of
            `paper_score_weights`, the weighted sum of its terms of `image_terms`.
        """
        x_hat, terms = self.image_terms(x)
        return x_hat, {
            name: scoring_terms.weighted_sum(parts, terms)
            for name, parts in self.paper_score_weights.items()
        }

    @property
    def available_scores(self):
        """Every score term this model can use: its paper's, the map terms, and the
        segmentation head's where it has one."""
        head = scoring_terms.SEGMENTATION_TERMS if self.segmentation_network is not None else ()
        return tuple(self.paper_scores) + scoring_terms.MAP_TERMS + head

    @property
    def segmentation_network(self):
        """The model's segmentation head (`ganomaly_keras.networks.segmentation`), or
        None."""
        return getattr(self, "segmentation", None)

    @property
    def score_definitions(self):
        """`{score: what it computes, in words}` of every available score."""
        definitions = {
            name: scoring_terms.describe(parts, self.term_definitions)
            for name, parts in self.paper_score_weights.items()
        }
        definitions.update(scoring_terms.map_definitions(self.map_smoothing))
        return definitions

    @property
    def score_definition(self):
        """What the model's score computes, in words."""
        return self.score_definitions[self.score]

    @property
    def feature_network(self):
        """The DCGAN `Encoder` whose first block gives the feature maps."""
        return self.discriminator.body

    def anomaly_outputs(self, x):
        """Scores and anomaly maps of a batch, in inference mode: the graph export
        serves.

        Args:
            x: a float batch in [-1, 1] of the model's input shape (checked by the
                callers: `call`, `predict_maps`, the serving graph).

        Returns:
            dict: `anomaly_score` `(batch,)` float32, the term named by `self.score`,
            and `anomaly_map` `(batch, image_size, image_size)` float32, the map of
            that term (see `ganomaly_keras.scoring.terms`).
        """
        terms, maps = self.score_terms(x, (self.score,))
        return {
            "anomaly_score": terms[self.score],
            "anomaly_map": maps[scoring_terms.map_name(self.score)],
        }

    def score_terms(self, x, names=None):
        """Score terms and maps of float images `x` in [-1, 1], in inference mode.

        Args:
            x: a batch of images.
            names: the terms to compute (default: all of `available_scores`).

        Returns:
            `(terms, maps)`: dicts of `(batch,)` and `(batch, h, w)` float32 tensors;
            see `ganomaly_keras.scoring.terms.compute_terms`.
        """
        names = tuple(self.available_scores if names is None else names)
        x = keras.ops.cast(x, "float32")
        if self.tiled:
            x = tiling.extract_tiles(x, self.input_hw, self.image_size)
        x_hat, paper = self.paper_terms(x)
        x_hat = keras.ops.cast(x_hat, "float32")
        features = None
        if scoring_terms.needs_features(names):
            first_block = self.feature_network.feature_blocks[: scoring_terms.FEATURE_LAYERS]
            features = tuple(
                keras.ops.cast(self.feature_network.run_blocks(first_block, t, False), "float32")
                for t in (x, x_hat)
            )
        segmentation = None
        if scoring_terms.needs_segmentation(names):
            logits = self.segmentation_network(x, x_hat, training=False)
            segmentation = keras.ops.sigmoid(keras.ops.cast(logits, "float32"))[..., 0]
        maps = scoring_terms.raw_maps(x, x_hat, features, names, segmentation)
        if self.tiled:
            # Paper terms: the worst tile; maps: averaged where tiles overlap.
            paper = {
                k: tiling.tile_maximum(v, self.input_hw, self.image_size)
                for k, v in paper.items()
            }
            maps = {
                k: tiling.assemble(v, self.input_hw, self.image_size) for k, v in maps.items()
            }
        return scoring_terms.terms_from_maps(
            paper, maps, self.normal_statistics, self.map_smoothing, names
        )

    def with_score(self, score):
        """A copy of this model that scores with `score`: same weights, statistics,
        calibration and (if compiled) optimizers. Recalibrate it: thresholds are in
        the units of the score they were fitted for.

        Args:
            score: one of `available_scores`.

        Returns:
            a new model of the same class.
        """
        config = dict(self.get_config(), score=score)
        clone = type(self).from_config(config)
        clone.set_weights(self.get_weights())
        if self.compiled:
            clone.compile_from_config(self.get_compile_config())
            for mine, theirs in (
                (self.optimizer, clone.optimizer),
                (self.discriminator_optimizer, clone.discriminator_optimizer),
            ):
                for source, target in zip(mine.variables, theirs.variables):
                    target.assign(source)
        return clone

    def predict_terms(self, x, names=None, batch_size=256, with_map=False):
        """Every asked score term of `x` as NumPy arrays `(n,)`, keyed by name.

        Args:
            x: float images in [-1, 1] (an array) of the model's shape.
            names: the terms (default: all of `available_scores`).
            batch_size: network inputs per forward pass.
            with_map: also return the anomaly map of the model's score, from the
                same forward pass.

        Returns:
            dict of name -> `(n,)` float32 scores; with `with_map`, `(terms, maps)`
            with maps `(n, height, width)` as `predict_maps` gives them.
        """
        names = tuple(self.available_scores if names is None else names)
        x = inputs.check_images(x, self.input_hw, self.channels)
        batches = tf.data.Dataset.from_tensor_slices(x).batch(self.images_per_pass(batch_size))
        if with_map:
            parts = [self._terms_and_map_inference(batch, names) for batch in batches]
        else:
            parts = [(self._terms_inference(batch, names), None) for batch in batches]
        terms = {
            name: np.concatenate([keras.ops.convert_to_numpy(p[0][name]) for p in parts])
            for name in names
        }
        if not with_map:
            return terms
        return terms, np.concatenate([keras.ops.convert_to_numpy(p[1]) for p in parts])

    @tf.function(reduce_retracing=True)
    def _terms_inference(self, x, names):
        return self.score_terms(x, names)[0]

    @tf.function(reduce_retracing=True)
    def _terms_and_map_inference(self, x, names):
        terms, maps = self.score_terms(x, tuple(dict.fromkeys(names + (self.score,))))
        return {n: terms[n] for n in names}, maps[scoring_terms.map_name(self.score)]

    def predict_maps(self, x, batch_size=256):
        """The anomaly map of the model's score for each image of `x`.

        Args:
            x: float images in [-1, 1] of the model's input shape.
            batch_size: images per forward pass.

        Returns:
            `(n, size, size)` float32 maps (see `ganomaly_keras.scoring.terms`).
        """
        x = inputs.check_images(x, self.input_hw, self.channels)
        parts = [
            keras.ops.convert_to_numpy(self._map_inference(batch))
            for batch in tf.data.Dataset.from_tensor_slices(x).batch(self.images_per_pass(batch_size))
        ]
        return np.concatenate(parts)

    @tf.function(reduce_retracing=True)
    def _map_inference(self, x):
        return self.anomaly_outputs(x)["anomaly_map"]

    def predict_outputs(self, x, batch_size=256):
        """Scores and anomaly maps of `x` from one forward pass per batch.

        Args:
            x: float images in [-1, 1] of the model's input shape.
            batch_size: images per forward pass.

        Returns:
            `(scores, maps)`: `(n,)` and `(n, size, size)` float32 NumPy arrays, what
            `predict` and `predict_maps` give.
        """
        x = inputs.check_images(x, self.input_hw, self.channels)
        parts = [
            self._outputs_inference(batch)
            for batch in tf.data.Dataset.from_tensor_slices(x).batch(self.images_per_pass(batch_size))
        ]
        return tuple(
            np.concatenate([keras.ops.convert_to_numpy(p[i]) for p in parts]) for i in (0, 1)
        )

    @tf.function(reduce_retracing=True)
    def _outputs_inference(self, x):
        outputs = self.anomaly_outputs(x)
        return outputs["anomaly_score"], outputs["anomaly_map"]

    # ----------------------------------------------------------- reconstructions

    def reconstruction_outputs(self, x):
        """The generator's outputs in inference mode.

        Args:
            x: a float batch in [-1, 1] of the networks' input shape.

        Returns:
            the reconstructions first, alone or followed by the latent codes.
        """
        return self.generator(x, training=False)

    def reconstruct(self, x, batch_size=256):
        """Reconstructions `G(x)` in inference mode, as a NumPy array (assembled from
        the tiles, averaged where they overlap, for a tiled model).

        Args:
            x: float images in [-1, 1] of the model's input shape.
            batch_size: images per forward pass.

        Returns:
            `(n, size, size, channels)` float32.
        """
        if not self.tiled:
            return self._predict_generator(x, batch_size)[0]
        x = inputs.check_images(x, self.input_hw, self.channels)
        return np.concatenate([
            keras.ops.convert_to_numpy(self._tiled_reconstruction(batch))
            for batch in tf.data.Dataset.from_tensor_slices(x).batch(self.images_per_pass(batch_size))
        ])

    @tf.function(reduce_retracing=True)
    def _tiled_reconstruction(self, x):
        tiles = tiling.extract_tiles(keras.ops.cast(x, "float32"), self.input_hw, self.image_size)
        x_hat, _ = self.paper_terms(tiles)
        return tiling.assemble(keras.ops.cast(x_hat, "float32"), self.input_hw, self.image_size)

    def _predict_generator(self, x, batch_size):
        if isinstance(x, tf.data.Dataset):
            batches = x.map(lambda *batch: batch[0])  # a batched dataset of x or (x, y)
        else:
            x = inputs.check_images(x, self.image_size, self.channels)
            batches = tf.data.Dataset.from_tensor_slices(x).batch(self.images_per_pass(batch_size))
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
