"""Exporting a trained, calibrated detector for serving and for edge devices.

`export_model` writes one folder:

    model.keras                  the Keras model for inference (no optimizer state;
                                 a run's own model.keras resumes training)
    saved_model/                 SavedModel; signatures `serving_default` (any batch)
                                 and `serve_batch1`
    model_float32.tflite         LiteRT, float32 weights and activations
    model_float16.tflite         float16 weights
    model_dynamic.tflite         int8 weights, float activations (dynamic range)
    model_int8.tflite            int8 weights and activations, calibrated on normal
                                 images and copies of them with synthetic defects
    metadata.json                everything a device needs (`ganomaly_keras.deploy.metadata`)
    MODEL_CARD.md                the same for a reader (`ganomaly_keras.deploy.model_card`)

Every artefact takes raw `uint8` images of shape `(batch, size, size, channels)`
(batch 1 for the `.tflite` files: a static batch runs far faster in LiteRT) and
computes `ganomaly_keras.deploy.serving.serving_function` inside, so device code does no
arithmetic. Every artefact returns:

- `anomaly_score` `(batch,)` float32: the raw score, higher = more anomalous;
- `normalized_score` `(batch,)` float32: the score scaled to [0, 1] with the scaling
  fitted on validation data (`model.calibrate`);
- `is_anomaly` `(batch,)` int32: 1 when the score is above the stored threshold;
- `anomaly_map` `(batch, size, size)` float32: the map of the model's score
  (`ganomaly_keras.scoring.terms`).

The writers (`ganomaly_keras.deploy.writers`) convert to LiteRT with builtin operators only,
in a child process. The folder is built next to its destination and swapped into
place at the end: an interrupted export never leaves a half-written folder behind.
"""

import concurrent.futures
import datetime
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras.deploy.metadata import (
    EDGE_SIGNATURE,
    EXPORT_FORMATS,
    SERVING_SIGNATURE,
    ExportMetadata,
)
from ganomaly_keras.deploy.model_card import model_card
from ganomaly_keras.deploy.serving import to_uint8_images
from ganomaly_keras.deploy.writers import (
    TFLITE_VARIANTS,
    convert_in_subprocess,
    litert_delegate,
    tflite_filename,
    write_saved_model,
)
from ganomaly_keras.saving import (
    directory_bytes,
    replace_directory,
    save_inference_model,
    staging_directory,
)
from ganomaly_keras.scoring import terms as scoring_terms

# Images used to calibrate int8 activation ranges, at most: half normal training
# images, half copies of them with a synthetic defect (see with_synthetic_defects).
MAX_REPRESENTATIVE_IMAGES = 256
OUTPUT_DESCRIPTIONS = {
    "anomaly_score": "float32 (batch,): raw score, higher = more anomalous",
    "normalized_score": "float32 (batch,): (score - score_min) / (score_max - "
    "score_min) clipped to [0, 1]",
    "is_anomaly": "int32 (batch,): 1 when anomaly_score > threshold",
}


def _representative_images(representative_data, image_shape):
    images = to_uint8_images(representative_data)
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1:] != image_shape:
        raise ValueError(
            f"representative_data must be images of shape (n,) + {image_shape}; got "
            f"{images.shape}."
        )
    if len(images) == 0:
        raise ValueError("representative_data holds no images.")
    rng = np.random.default_rng(0)
    chosen = rng.permutation(len(images))[: MAX_REPRESENTATIVE_IMAGES // 2]
    normal = images[np.sort(chosen)]
    return np.concatenate([normal, with_synthetic_defects(normal)])


def with_synthetic_defects(images, seed=0):
    """Copies of uint8 images, each with one rectangle of random colour pasted in.

    int8 activation ranges are calibrated on representative images. Calibrated on
    normal images alone, the residual and anomaly-map tensors get the small range of
    normal residuals, and every defect's residual is clipped to it: a map-based
    score then saturates (measured on PIPED PA_BDP01_TL with `residual_max`: int8
    AUROC 0.838 against 1.000 in float32). Half of the representative images are
    these copies, so the ranges also cover anomalous residuals (int8 AUROC 1.000,
    correlation with float32 0.9998).
    """
    rng = np.random.default_rng(seed)
    out = np.array(images, copy=True)
    side = out.shape[1]
    for image in out:
        h, w = rng.integers(max(1, side // 10), max(2, side // 3), 2)
        y, x = rng.integers(0, side - h + 1), rng.integers(0, side - w + 1)
        image[y : y + h, x : x + w] = rng.integers(0, 256, image.shape[-1])
    return out


def _json_scalar(value):
    if isinstance(value, (bool, str, type(None))):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value)


def build_metadata(model, artefacts, training_data=None, validation=None):
    """The `ExportMetadata` of an export of `model` with these artefacts.

    Args:
        model: a calibrated detector.
        artefacts: `{format: {"file", "bytes", ...}}` of the written files.
        training_data: a JSON-able summary of the training data.
        validation: validation figures (never test figures).

    Returns:
        an `ExportMetadata`.
    """
    from ganomaly_keras import __version__

    fitted = model.calibration
    outputs = dict(OUTPUT_DESCRIPTIONS)
    outputs["anomaly_map"] = "float32 (batch, height, width): " + (
        scoring_terms.MAP_DESCRIPTIONS[scoring_terms.map_name(model.score)]
    )
    return ExportMetadata(
        model_class=type(model).__name__,
        model_config={
            k: v for k, v in model.get_config().items()
            if isinstance(v, (int, float, str, bool, type(None)))
        },
        image_size=model.working_size or model.image_size,
        channels=model.channels,
        score_name=model.score,
        score_definition=model.score_definition,
        map_smoothing=model.map_smoothing,
        score_min=fitted.score_min,
        score_max=fitted.score_max,
        threshold=fitted.threshold,
        outputs=outputs,
        tiling={
            "tile_size": model.image_size,
            "stride": model.image_size // 2,
            "note": "inside the model: overlapping tiles are scored and their maps "
            "averaged into one map of the image's size",
        } if model.tiled else None,
        training_data=training_data or {},
        validation={k: _json_scalar(v) for k, v in (validation or {}).items()},
        artefacts=artefacts,
        package_version=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        tensorflow_version=tf.__version__,
        keras_version=keras.__version__,
    )


def unsupported_formats(model, formats=EXPORT_FORMATS):
    """`{format: reason}` for the formats of `formats` that `model` cannot produce."""
    reasons = getattr(model, "unsupported_export_formats", {})
    return {f: reasons[f] for f in formats if f in reasons}


def supported_formats(model, formats=EXPORT_FORMATS):
    """The formats of `formats` that `model` can be exported to, in order."""
    unsupported = unsupported_formats(model, formats)
    return tuple(f for f in formats if f not in unsupported)


def export_model(
    model,
    out_dir,
    formats=EXPORT_FORMATS,
    representative_data=None,
    training_data=None,
    validation=None,
):
    """Write a calibrated detector in every asked format, with metadata and a card.

    Args:
        model: a trained detector on which `calibrate` has been called (the threshold
            and scaling are baked into every artefact).
        out_dir: the export folder; replaced as a whole when the export succeeds.
        formats: any of `EXPORT_FORMATS`: "keras", "saved_model", "tflite_float32",
            "tflite_float16", "tflite_dynamic", "tflite_int8". TFLite formats are
            converted from the SavedModel, which is written for them in any case.
        representative_data: normal training images (floats in [-1, 1] or uint8),
            needed for "tflite_int8" to calibrate activation ranges.
        training_data: a JSON-able summary of the training data for the metadata
            (source, protocol, classes, number of images, epochs).
        validation: JSON-able validation figures (e.g. `{"auroc": 0.98}`).

    Returns:
        dict: format name -> path, plus "metadata" and "model_card".

    Example:
    ```python
    model.calibrate(val_x, val_y)
    paths = export_model(model, "runs/export", representative_data=train_x[:200],
                         validation={"auroc": 0.98})
    ```
    """
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty subset of {EXPORT_FORMATS}; got {unknown or formats}.")
    refused = unsupported_formats(model, formats)
    if refused:
        name, reason = next(iter(refused.items()))
        raise ValueError(
            f"{type(model).__name__} cannot be exported as {name}: {reason} "
            f"Formats it supports: {supported_formats(model)}."
        )
    if getattr(model, "calibration", None) is None:
        raise ValueError(
            "the model has no threshold or score scaling yet, and an export without "
            "them would flag everything: call model.calibrate(validation_images) or "
            "model.calibrate(validation_images, validation_labels) before exporting."
        )
    image_shape = (*model.input_hw, model.channels)
    representative = None
    if "tflite_int8" in formats:
        if representative_data is None:
            raise ValueError(
                "formats include tflite_int8, which needs representative_data: pass "
                "normal training images (a few hundred) to calibrate int8 ranges."
            )
        representative = _representative_images(representative_data, image_shape)

    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"out_dir {out_dir!r} is a file; give a folder path.")
    staging = staging_directory(out_dir)
    try:
        artefacts = {}
        if "keras" in formats:
            save_inference_model(model, os.path.join(staging, "model.keras"))
            artefacts["keras"] = {"file": "model.keras"}
        saved_model_dir = os.path.join(staging, "saved_model")
        needs_saved_model = any(f.startswith(("saved_model", "tflite")) for f in formats)
        if needs_saved_model:
            write_saved_model(model, saved_model_dir)
        variants = [v for v in TFLITE_VARIANTS if f"tflite_{v}" in formats]
        if variants:
            # The converter runs in a child process: a native crash in it must not
            # take the caller down (see convert_in_subprocess).
            convert_in_subprocess(saved_model_dir, variants, staging, representative)
        # Each file is run once in its own child process, all at once.
        with concurrent.futures.ThreadPoolExecutor(max(1, len(variants))) as pool:
            delegates = pool.map(
                litert_delegate, [os.path.join(staging, tflite_filename(v)) for v in variants]
            )
        for variant, delegate in zip(variants, delegates):
            artefacts[f"tflite_{variant}"] = {
                "file": tflite_filename(variant),
                "signature": EDGE_SIGNATURE,
                "batch": 1,
                "quantization": variant,
                # Runners read this: "none" means run without XNNPACK.
                "litert_delegate": delegate,
            }
        if needs_saved_model and "saved_model" not in formats:
            shutil.rmtree(saved_model_dir)
        elif needs_saved_model:
            artefacts["saved_model"] = {
                "file": "saved_model",
                "signature": SERVING_SIGNATURE,
                "batch1_signature": EDGE_SIGNATURE,
            }
        for entry in artefacts.values():
            path = os.path.join(staging, entry["file"])
            entry["bytes"] = directory_bytes(path)
        metadata = build_metadata(model, artefacts, training_data, validation)
        metadata.write(staging)
        with open(os.path.join(staging, "MODEL_CARD.md"), "w") as handle:
            handle.write(model_card(metadata))
        replace_directory(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    paths = {name: os.path.join(out_dir, a["file"]) for name, a in artefacts.items()}
    paths["metadata"] = os.path.join(out_dir, "metadata.json")
    paths["model_card"] = os.path.join(out_dir, "MODEL_CARD.md")
    return paths
