"""The decision API every detector shares (`AdversarialDetector` mixes it in).

`calibrate` fits the score scaling and the threshold on validation data
(`ganomaly_keras.scoring.calibration`) and stores them in model weights, so saved and exported
models carry them; `normalized_score` and `predict_anomaly` apply them through the
one calibration head of `ganomaly_keras.deploy.serving`, as the exported graph does.
"""

from ganomaly_keras.deploy import serving
from ganomaly_keras.scoring import calibration

CALIBRATION_VALUES = ("score_min", "score_max", "threshold", "calibrated")


class DecisionMixin:
    """Calibration, scaled scores and decisions of a detector."""

    def _build_calibration(self):
        # Score scaling and threshold, fitted by `calibrate` on validation data and
        # saved with the model; `calibrated` is 0 until then.
        self.calibration_values = {
            name: self.add_weight(shape=(), initializer="zeros", trainable=False, name=name)
            for name in CALIBRATION_VALUES
        }

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
            the fitted `ganomaly_keras.scoring.calibration.Calibration`.
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

    def calibrated_outputs(self, x, batch_size=256):
        """The served outputs of float images `x`, as NumPy arrays.

        Args:
            x: float images in [-1, 1] of the model's input shape.
            batch_size: images per forward pass.

        Returns:
            dict: "anomaly_score" (raw), "normalized_score" (0..1) and
            "is_anomaly" (1 = anomaly), as the exported models compute them.
        """
        fitted = self._require_calibration()
        scores = self.predict(x, batch_size=batch_size, verbose=0)
        return serving.calibrated_numpy(scores, fitted)

    def normalized_score(self, x, batch_size=256):
        """Scores scaled to [0, 1] with the stored calibration, as a NumPy array.

        Args:
            x: float images in [-1, 1].
            batch_size: images per forward pass.

        Returns:
            `(n,)` float32.
        """
        return self.calibrated_outputs(x, batch_size)["normalized_score"]

    def predict_anomaly(self, x, batch_size=256):
        """Decisions with the stored threshold.

        Args:
            x: float images in [-1, 1].
            batch_size: images per forward pass.

        Returns:
            `(n,)` int64: 1 = anomaly (score above the threshold), 0 = normal.
        """
        return self.calibrated_outputs(x, batch_size)["is_anomaly"].astype("int64")
