"""Exporting a trained, calibrated detector for serving and for edge devices.

`export_model` writes one folder:

    model.keras                  the Keras model (training can resume from it)
    saved_model/                 SavedModel; signatures `serving_default` (any batch)
                                 and `serve_batch1`
    model_float32.tflite         LiteRT, float32 weights and activations
    model_float16.tflite         float16 weights
    model_dynamic.tflite         int8 weights, float activations (dynamic range)
    model_int8.tflite            int8 weights and activations, calibrated on normal
                                 images and copies of them with synthetic defects
    metadata.json                everything a device needs to run and trust the model
    MODEL_CARD.md                the same for a reader

Every artefact takes raw `uint8` images of shape `(batch, image_size, image_size,
channels)` (batch 1 for the `.tflite` files: a static batch runs far faster in LiteRT)
and does the package's preprocessing inside, so device code does no arithmetic. Every
artefact returns:

- `anomaly_score` `(batch,)` float32: the raw score, higher = more anomalous;
- `normalized_score` `(batch,)` float32: the score scaled to [0, 1] with the scaling
  fitted on validation data (`model.calibrate`);
- `is_anomaly` `(batch,)` int32: 1 when the score is above the stored threshold;
- `anomaly_map` `(batch, image_size, image_size)` float32: the map of the model's
  score (`ganomaly_keras.scoring`): `|x - G(x)|` per pixel averaged over channels, in
  [0, 2], for paper and residual scores; the feature-distance or standardised map
  for `feature_max` and `standardized_max`.

The TFLite files are converted from the exported SavedModel with builtin operators only
(no Flex ops), so a plain LiteRT runtime (`ai-edge-litert`) runs them. The folder is
written next to its destination and moved into place at the end: an interrupted export
never leaves a half-written folder behind.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras import scoring
from ganomaly_keras.saving import (
    replace_directory,
    save_model_atomically,
    staging_directory,
)

SCHEMA_VERSION = 1
TFLITE_VARIANTS = ("float32", "float16", "dynamic", "int8")
EXPORT_FORMATS = ("keras", "saved_model") + tuple(f"tflite_{v}" for v in TFLITE_VARIANTS)
SERVING_SIGNATURE = "serving_default"
EDGE_SIGNATURE = "serve_batch1"
INPUT_NAME = "images"
OUTPUT_NAMES = ("anomaly_score", "normalized_score", "is_anomaly", "anomaly_map")
# Images used to calibrate int8 activation ranges, at most: half normal training
# images, half copies of them with a synthetic defect (see with_synthetic_defects).
MAX_REPRESENTATIVE_IMAGES = 256


def tflite_filename(variant):
    return f"model_{variant}.tflite"


def to_uint8_images(images):
    """Images as uint8 pixels: uint8 arrays pass, float arrays in [-1, 1] are mapped
    back to 0..255 (the inverse of the preprocessing contract)."""
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


def serving_function(model):
    """The inference graph: uint8 images in, the four named outputs out.

    `model` needs `anomaly_outputs(x)` and stored calibration values (every detector
    of this package has both).
    """
    values = model.calibration_values

    def serve(images):
        x = tf.cast(images, tf.float32) / 127.5 - 1.0
        outputs = model.anomaly_outputs(x)
        score = outputs["anomaly_score"]
        span = tf.maximum(values["score_max"] - values["score_min"], 1e-12)
        return {
            "anomaly_score": score,
            "normalized_score": tf.clip_by_value(
                (score - values["score_min"]) / span, 0.0, 1.0
            ),
            "is_anomaly": tf.cast(score > values["threshold"], tf.int32),
            "anomaly_map": outputs["anomaly_map"],
        }

    return serve


def _write_saved_model(model, path):
    shape = (model.input_size, model.input_size, model.channels)
    serve = serving_function(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    # The first endpoint becomes `serving_default`.
    archive.add_endpoint(
        SERVING_SIGNATURE,
        serve,
        input_signature=[tf.TensorSpec((None,) + shape, tf.uint8, name=INPUT_NAME)],
    )
    archive.add_endpoint(
        EDGE_SIGNATURE,
        serve,
        input_signature=[tf.TensorSpec((1,) + shape, tf.uint8, name=INPUT_NAME)],
    )
    archive.write_out(path, verbose=False)


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


def convert_to_tflite(saved_model_dir, variant, representative_images=None):
    """Convert the exported SavedModel's batch-1 signature to a LiteRT flatbuffer.

    Args:
        saved_model_dir: a folder written by `export_model`.
        variant: "float32", "float16", "dynamic" (int8 weights) or "int8" (int8
            weights and activations; needs `representative_images`, uint8 normal
            images of the model's shape).

    Returns:
        the `.tflite` bytes.
    """
    if variant not in TFLITE_VARIANTS:
        raise ValueError(f"variant must be one of {TFLITE_VARIANTS}; got {variant!r}.")
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=[EDGE_SIGNATURE]
    )
    # Builtin operators only: no Flex (TensorFlow) ops, so plain LiteRT runs it.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        if representative_images is None:
            raise ValueError(
                "the int8 export needs representative_data: normal training images "
                "to calibrate activation ranges."
            )

        def representative_dataset():
            for image in representative_images:
                yield {INPUT_NAME: image[None]}

        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with warnings.catch_warnings():
        # The converter calibrates int8 with tf.lite.Interpreter internally; its
        # deprecation notice is about TensorFlow's code, not this call.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        return converter.convert()


def converter_error_summary(stderr):
    """One line of what matters in the TFLite converter's (long, MLIR-laden) output."""
    unsupported = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", stderr)))
    if unsupported:
        return "TensorFlow ops with no LiteRT builtin kernel: " + ", ".join(unsupported)
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return ((errors or lines or ["no output"])[-1])[:500]


def convert_in_subprocess(saved_model_dir, variants, out_dir, representative_images=None, timeout=1800):
    """`convert_to_tflite` for each of `variants` in a child Python process.

    TensorFlow's TFLite converter and int8 calibrator are native code that can abort
    the whole process (heap corruption on some models and activation ranges; see
    tensorflow/tensorflow#120295 and relatives; measured here once on an untrained
    width-16 model). In a child process such a crash becomes a `RuntimeError`, and
    the caller (a training run, a notebook) survives it.

    Writes `tflite_filename(variant)` files into `out_dir`.
    """
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, "-m", "ganomaly_keras.export",
            saved_model_dir, out_dir, ",".join(variants),
        ]
        if representative_images is not None:
            images = os.path.join(folder, "representative.npy")
            np.save(images, representative_images)
            command.append(images)
        # The child must import this very package, installed or not.
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=path)
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=environment
        )
    missing = [v for v in variants if not os.path.exists(os.path.join(out_dir, tflite_filename(v)))]
    if result.returncode != 0 or missing:
        detail = converter_error_summary(result.stderr)
        raise RuntimeError(
            f"TensorFlow's TFLite converter failed (exit status {result.returncode}: "
            f"{detail}); variants not written: {missing}. Export the other formats "
            "(formats=...), or calibrate int8 with other representative images."
        )


# Runs one image through a .tflite file in a fresh process, with LiteRT's default
# delegates (XNNPACK) or without; exit status 0 means it ran.
_SMOKE_TEST = """
import sys, numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
path, plain = sys.argv[1], sys.argv[2] == "plain"
options = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} if plain else {}
runner = Interpreter(model_path=path, num_threads=1, **options).get_signature_runner(sys.argv[3])
shape = runner.get_input_details()["images"]["shape"]
outputs = runner(images=np.full(shape, 128, np.uint8))
sys.exit(0 if np.all(np.isfinite(outputs["anomaly_score"])) else 3)
"""


def litert_delegate(path, timeout=300):
    """Which LiteRT kernels run `path`: "default" (XNNPACK), else "none" (the
    builtin kernels alone).

    ai-edge-litert 2.3.0's XNNPACK aborts the process on some int8 models (measured:
    GANomaly of width 16 at 32x32); each file is therefore run once in a child
    process. Raises RuntimeError when neither way runs it.
    """
    for delegate, mode in (("default", "xnnpack"), ("none", "plain")):
        result = subprocess.run(
            [sys.executable, "-c", _SMOKE_TEST, path, mode, EDGE_SIGNATURE],
            capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode == 0:
            return delegate
    raise RuntimeError(
        f"LiteRT cannot run {path}, with or without XNNPACK: "
        f"{(result.stderr.strip().splitlines() or ['no output'])[-1]}"
    )


def _convert_main(argv):
    """`python -m ganomaly_keras.export SAVED_MODEL OUT_DIR VARIANTS [IMAGES.npy]`."""
    saved_model_dir, out_dir, variants = argv[:3]
    images = np.load(argv[3]) if len(argv) > 3 else None
    for variant in variants.split(","):
        flatbuffer = convert_to_tflite(saved_model_dir, variant, images)
        # Written under a temporary name and renamed: no half-written file on a crash.
        path = os.path.join(out_dir, tflite_filename(variant))
        with open(path + ".part", "wb") as handle:
            handle.write(flatbuffer)
        os.replace(path + ".part", path)


def _json_number(value):
    return None if value is None else float(value)


def build_metadata(model, artefacts, training_data=None, validation=None):
    """The `metadata.json` dictionary of an export."""
    from ganomaly_keras import __version__

    fitted = model.calibration
    return {
        "schema_version": SCHEMA_VERSION,
        "package": "ganomaly-keras",
        "package_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "model": {
            "class": type(model).__name__,
            "config": {
                k: v
                for k, v in model.get_config().items()
                if isinstance(v, (int, float, str, bool, type(None)))
            },
        },
        "input": {
            "name": INPUT_NAME,
            "dtype": "uint8",
            "range": [0, 255],
            "image_size": model.input_size,
            "tiling": {
                "tile_size": model.image_size,
                "stride": model.image_size // 2,
                "note": "inside the model: overlapping tiles are scored and their maps "
                "averaged into one image_size map",
            } if model.tiled else None,
            "channels": model.channels,
            "color": "grayscale" if model.channels == 1 else "rgb",
            "layout": "NHWC",
            "resize": "bilinear, to image_size x image_size, before the model",
            "preprocessing": "inside the model: x / 127.5 - 1",
        },
        "outputs": {
            "anomaly_score": "float32 (batch,): raw score, higher = more anomalous",
            "normalized_score": "float32 (batch,): (score - score_min) / (score_max - "
            "score_min) clipped to [0, 1]",
            "is_anomaly": "int32 (batch,): 1 when anomaly_score > threshold",
            "anomaly_map": "float32 (batch, image_size, image_size): "
            + scoring.MAP_DESCRIPTIONS[scoring.map_name(model.score)],
        },
        "score": {
            "name": model.score,
            "definition": model.score_definition,
            "map_smoothing": model.map_smoothing,
        },
        "scaling": {"score_min": fitted.score_min, "score_max": fitted.score_max},
        "threshold": fitted.threshold,
        "training_data": training_data or {},
        "validation": {k: _json_number(v) if isinstance(v, (int, float, np.number)) else v
                       for k, v in (validation or {}).items()},
        "artefacts": artefacts,
    }


def model_card(metadata):
    """A short Markdown model card from the metadata."""
    inp, cfg = metadata["input"], metadata["model"]["config"]
    rows = "\n".join(
        f"| {name} | `{a['file']}` | {a['bytes']:,} | {a.get('batch', 'any')} |"
        for name, a in metadata["artefacts"].items()
    )
    validation = metadata["validation"] or {"note": "no validation figures were given"}
    training = metadata["training_data"] or {"note": "no training data summary given"}
    return f"""# Model card: {metadata['model']['class']} anomaly detector

Exported by ganomaly-keras {metadata['package_version']} on {metadata['created']}.

## What it does
Scores one {inp['image_size']}x{inp['image_size']} {inp['color']} image for how unlike
the normal training images it is, and decides anomaly (1) or normal (0) with a threshold
fitted on validation data. It was trained on normal images only.

## Input
`{inp['name']}`: uint8 pixels 0..255, shape (batch, {inp['image_size']},
{inp['image_size']}, {inp['channels']}); resize other sizes bilinearly first. The model
scales pixels itself.

## Outputs
{chr(10).join(f"- `{k}`: {v}" for k, v in metadata['outputs'].items())}

Score: {metadata['score']['definition']}. Scaling: score_min
{metadata['scaling']['score_min']:.6g}, score_max {metadata['scaling']['score_max']:.6g};
threshold {metadata['threshold']:.6g} (raw-score units).

## Architecture
Latent size {cfg.get('latent_size')}, width {cfg.get('width')}, loss weights
adversarial/contextual/encoder {cfg.get('adversarial_weight')}/
{cfg.get('contextual_weight')}/{cfg.get('encoder_weight')}.

## Training data
{json.dumps(training, indent=2)}

## Validation (never the test split)
{json.dumps(validation, indent=2)}

## Files
| format | file | bytes | batch |
|---|---|---|---|
{rows}

## Limitations
An anomaly here means "unlike the training images"; images from another camera,
lighting or resolution can score high without a defect. Re-fit the threshold on
validation images from the deployment site. Quantised (int8) files score slightly
differently from float32; run `export/verify_export.py` to see by how much.
"""


def _directory_size(path):
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(path)
        for name in names
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
    image_shape = (model.input_size, model.input_size, model.channels)
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
            save_model_atomically(model, os.path.join(staging, "model.keras"))
            artefacts["keras"] = {"file": "model.keras"}
        saved_model_dir = os.path.join(staging, "saved_model")
        needs_saved_model = any(f.startswith(("saved_model", "tflite")) for f in formats)
        if needs_saved_model:
            _write_saved_model(model, saved_model_dir)
        variants = [v for v in TFLITE_VARIANTS if f"tflite_{v}" in formats]
        if variants:
            # The converter runs in a child process: a native crash in it must not
            # take the caller down (see convert_in_subprocess).
            convert_in_subprocess(saved_model_dir, variants, staging, representative)
        for variant in variants:
            artefacts[f"tflite_{variant}"] = {
                "file": tflite_filename(variant),
                "signature": EDGE_SIGNATURE,
                "batch": 1,
                "quantization": variant,
                # Runners read this: "none" means run without XNNPACK.
                "litert_delegate": litert_delegate(
                    os.path.join(staging, tflite_filename(variant))
                ),
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
            entry["bytes"] = (
                _directory_size(path) if os.path.isdir(path) else os.path.getsize(path)
            )
        metadata = build_metadata(model, artefacts, training_data, validation)
        with open(os.path.join(staging, "metadata.json"), "w") as handle:
            json.dump(metadata, handle, indent=2)
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


if __name__ == "__main__":
    _convert_main(sys.argv[1:])
