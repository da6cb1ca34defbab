"""The statistics of normal images that the standardised score terms divide by.

`fit_normal_statistics` scores normal training images and stores, as model weights
saved with it, the mean and standard deviation of the default paper term,
`residual_max` and `feature_max`, and the per-position mean and standard deviation
of the smoothed residual map (`ganomaly_keras.scoring.terms` reads them).

How many images to fit on is counted in network inputs (`statistics_sample`): a
tiled KolektorSDD part at 640x256 is 133 inputs of 64 px, a digit one, so a fixed
image count would cost a hundred times more on one than on the other.
"""

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras.models import inputs
from ganomaly_keras.scoring import terms as scoring_terms

# Network inputs the statistics of the model a run keeps are fitted on, and those of
# each validation during training (which ranks the standardised terms only).
FINAL_INPUTS = 8192
VALIDATION_INPUTS = 512
# Fewest images for per-position statistics, whatever the budget.
MIN_IMAGES = 8


class NormalStatisticsMixin:
    """The standardised terms' statistics of normal images, as model weights."""

    def _build_normal_statistics(self):
        # Statistics of normal training images for the standardised score terms,
        # fitted by `fit_normal_statistics` and saved with the model.
        size = self.input_hw
        count = (len(scoring_terms.STANDARDIZED_INPUTS),)
        self.normal_statistics = {
            name: self.add_weight(
                shape=shape, initializer=initializer, trainable=False, name=name
            )
            for name, shape, initializer in (
                ("term_mean", count, "zeros"),
                ("term_std", count, "ones"),
                ("map_mean", size, "zeros"),
                ("map_std", size, "ones"),
                ("statistics_fitted", (), "zeros"),
            )
        }

    def statistics_sample(self, x, network_inputs=FINAL_INPUTS):
        """The first images of `x` worth `network_inputs` network inputs (tiles),
        at least `MIN_IMAGES` and at most all of them."""
        count = max(MIN_IMAGES, int(network_inputs) // self.tiles_per_image)
        return x[:count]

    def fit_normal_statistics(self, x, batch_size=256):
        """Fit the statistics of the standardised score terms on normal images.

        Stores the mean and standard deviation over `x` of the default paper term,
        `residual_max` and `feature_max`, and the per-position mean and standard
        deviation of the smoothed residual map. Use normal training images: never
        test images, and not the validation images a score is selected or
        calibrated on, whose standardised scores would then look better than they
        are (measured: validation AUROC 1.0 against 0.76 on test).

        Args:
            x: normal images, float in [-1, 1].
            batch_size: images per forward pass.
        """
        x = inputs.check_images(x, self.input_hw, self.channels)
        if int(x.shape[0]) < 1:
            raise ValueError("fit_normal_statistics needs at least one normal image.")
        names = (self.paper_scores[0], "residual_max", "feature_max")
        terms, maps = [], []
        for batch in tf.data.Dataset.from_tensor_slices(x).batch(self.images_per_pass(batch_size)):
            batch_terms, smoothed = self._statistics_inference(batch, names)
            terms.append(np.stack([keras.ops.convert_to_numpy(batch_terms[n]) for n in names], -1))
            maps.append(keras.ops.convert_to_numpy(smoothed))
        terms, maps = np.concatenate(terms), np.concatenate(maps)
        self.normal_statistics["term_mean"].assign(terms.mean(0))
        self.normal_statistics["term_std"].assign(terms.std(0))
        self.normal_statistics["map_mean"].assign(maps.mean(0))
        self.normal_statistics["map_std"].assign(maps.std(0))
        self.normal_statistics["statistics_fitted"].assign(1.0)

    @property
    def statistics_fitted(self):
        """Whether `fit_normal_statistics` has run (saved with the model)."""
        return bool(self.normal_statistics["statistics_fitted"].numpy())

    @tf.function(reduce_retracing=True)
    def _statistics_inference(self, x, names):
        terms, maps = self.score_terms(x, names)
        return terms, maps["smoothed_residual"]
