"""What a served detector computes around its score: the input contract and the
calibration head.

- Input contract: image files are read by the package's one image path
  (`ganomaly_keras.data.images.read_pixels`: Pillow, the model's channels, an
  antialiased bilinear resize to the model's size) and given as uint8 pixels; the
  model scales them to float with `preprocess` (`x / 127.5 - 1`, so [-1, 1]).
- Calibration head (`calibration_head`): the raw score, its 0..1 scaling
  `(score - score_min) / (score_max - score_min)` clipped to [0, 1], and the decision
  `score > threshold` (1 = anomaly), from the values `calibrate` fitted on validation
  data.

`AdversarialDetector.normalized_score` and `predict_anomaly`, `evaluate_detector`,
`score_files` (behind `ganomaly-keras predict`) and the exported graph
(`serving_function`) all go through these two functions, so every path computes the
same numbers.
"""

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras.data.decoding import check_on_error
from ganomaly_keras.data.images import ImageReadError, read_pixels, to_model_input
from ganomaly_keras.deploy.metadata import OUTPUT_NAMES

# The smallest score range the scaling divides by.
MIN_SPAN = 1e-12
# The name scope of the calibration head's ops in the exported graph: the int8
# conversion keeps the ops under it in float32 (`ganomaly_keras.deploy.writers`).
HEAD_SCOPE = "calibration_head"


def preprocess(images):
    """uint8 pixels (a tensor or array) to float32 in [-1, 1]: `x / 127.5 - 1`."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8_images(images):
    """Images as uint8 pixels: uint8 arrays pass, float arrays in [-1, 1] are mapped
    back to 0..255 (the inverse of `preprocess`, rounded).

    Raises:
        ValueError: for another dtype, or floats outside [-1, 1].
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"images must be uint8 pixels or floats in [-1, 1]; got dtype {images.dtype}."
        )
    if images.size and (np.nanmin(images) < -1.001 or np.nanmax(images) > 1.001):
        raise ValueError("float images must be in [-1, 1] (the model's input contract).")
    return np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def calibration_head(scores, score_min, score_max, threshold):
    """The served outputs of raw scores, with `keras.ops` (arrays or tensors).

    Args:
        scores: raw scores `(batch,)`.
        score_min, score_max: the validation scores' range.
        threshold: raw-score units; anomalous above it.

    Returns:
        dict: "anomaly_score" (the scores), "normalized_score" (float, [0, 1]) and
        "is_anomaly" (int32, 1 = anomaly).
    """
    with tf.name_scope(HEAD_SCOPE):
        scores = keras.ops.convert_to_tensor(scores, "float32")
        span = keras.ops.maximum(score_max - score_min, MIN_SPAN)
        return {
            "anomaly_score": scores,
            "normalized_score": keras.ops.clip((scores - score_min) / span, 0.0, 1.0),
            "is_anomaly": keras.ops.cast(scores > threshold, "int32"),
        }


def calibrated_numpy(scores, calibration):
    """`calibration_head` of NumPy scores with a `Calibration`, as NumPy arrays."""
    head = calibration_head(
        np.asarray(scores, np.float32), calibration.score_min, calibration.score_max,
        calibration.threshold,
    )
    return {name: keras.ops.convert_to_numpy(value) for name, value in head.items()}


def serving_function(model):
    """The exported graph: uint8 images in, the four named outputs out.

    Args:
        model: a detector of this package (it has `anomaly_outputs` and stored
            calibration values).

    Returns:
        a function of a uint8 tensor `(batch, size, size, channels)` returning a dict
        keyed by `ganomaly_keras.deploy.metadata.OUTPUT_NAMES`.
    """
    values = model.calibration_values

    def serve(images):
        outputs = model.anomaly_outputs(preprocess(images))
        head = calibration_head(
            outputs["anomaly_score"], values["score_min"], values["score_max"],
            values["threshold"],
        )
        head["anomaly_map"] = outputs["anomaly_map"]
        return {name: head[name] for name in OUTPUT_NAMES}

    return serve


def score_files(model, paths, batch_size=64, on_error="raise"):
    """Score image files in batches, read by the one image path
    (`ganomaly_keras.data.images.read_pixels`), as the exported models score them.

    Memory holds one batch at a time, whatever the number of files.

    Args:
        model: a calibrated detector.
        paths: image file paths.
        batch_size: files decoded and scored together.
        on_error: "raise" (an unreadable file raises a ValueError naming it) or
            "skip" (it is yielded with its reason).

    Yields:
        `(path, outputs, reason)` per file, in order: `outputs` a dict of the
        file's "anomaly_score", "normalized_score" and "is_anomaly" (NumPy
        scalars) and `reason` None; or `outputs` None and the reason it was skipped.
    """
    check_on_error(on_error)
    paths = list(paths)
    size = model.input_hw
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        pixels, reasons = [], []
        for path in chunk:
            try:
                pixels.append(read_pixels(path, size, model.channels)[0])
                reasons.append(None)
            except ImageReadError as error:
                if on_error == "raise":
                    raise ValueError(
                        f"{error}; fix or remove the file, or pass --skip-unreadable "
                        "to skip it."
                    ) from None
                reasons.append(str(error).split(": ", 1)[-1])
        outputs = model.calibrated_outputs(to_model_input(np.stack(pixels))) if pixels else {}
        row = 0
        for path, reason in zip(chunk, reasons):
            if reason is not None:
                yield path, None, reason
                continue
            yield path, {k: v[row] for k, v in outputs.items()}, None
            row += 1
