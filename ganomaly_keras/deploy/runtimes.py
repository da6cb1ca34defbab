"""Running an export folder's artefacts side by side on the same uint8 images.

Each runtime scores raw uint8 images `(n, size, size, channels)` and returns the four
outputs of `ganomaly_keras.deploy.export` as NumPy arrays; `compare_runtimes` lines them up
against the Keras model. `export/verify_export.py` and the benchmark print what it
measures.
"""

import os
import time

import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from ganomaly_keras.deploy.metadata import EDGE_SIGNATURE, INPUT_NAME, SERVING_SIGNATURE
from ganomaly_keras.deploy.serving import serving_function
from ganomaly_keras.deploy.writers import TFLITE_VARIANTS, tflite_filename
from ganomaly_keras.edge import open_interpreter, recorded_delegate
from ganomaly_keras.results import markdown_table as results_table
from ganomaly_keras.saving import directory_bytes, load_model


class KerasRuntime:
    """The `.keras` model with the export's serving function around it."""

    name = "keras"

    def __init__(self, model_path):
        self.model = load_model(model_path)
        self._serve = tf.function(serving_function(self.model), reduce_retracing=True)
        self.path = model_path

    def run(self, images):
        return {k: v.numpy() for k, v in self._serve(tf.constant(images)).items()}


class SavedModelRuntime:
    """The SavedModel's `serving_default` signature."""

    name = "saved_model"

    def __init__(self, path):
        self.loaded = tf.saved_model.load(path)
        self.signature = self.loaded.signatures[SERVING_SIGNATURE]
        self.path = path

    def run(self, images):
        outputs = self.signature(**{INPUT_NAME: tf.constant(images)})
        return {k: v.numpy() for k, v in outputs.items()}


class TFLiteRuntime:
    """A `.tflite` file's batch-1 signature in LiteRT, one image at a time.

    `delegate="none"` runs LiteRT's builtin kernels without XNNPACK; the export's
    metadata says when a file needs that (`litert_delegate`). By default the choice
    is read from the `metadata.json` beside the file when there is one.
    """

    def __init__(self, path, num_threads=1, delegate=None):
        self.delegate = recorded_delegate(path) if delegate is None else delegate
        self.interpreter = open_interpreter(path, num_threads, self.delegate)
        self.runner = self.interpreter.get_signature_runner(EDGE_SIGNATURE)
        self.name = "tflite_" + os.path.basename(path)[len("model_") : -len(".tflite")]
        self.path = path

    def run(self, images):
        outputs = [self.runner(**{INPUT_NAME: image[None]}) for image in images]
        return {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}


def latency_ms(runtime, images, batch_size=1, repeats=50, warmup=5):
    """Median milliseconds per image when `runtime.run` scores batches of `batch_size`."""
    batch = np.asarray(images[:batch_size])
    if len(batch) < batch_size:
        batch = np.resize(batch, (batch_size,) + batch.shape[1:])
    for _ in range(warmup):
        runtime.run(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runtime.run(batch)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times)) / batch_size


def load_runtimes(export_dir, num_threads=1):
    """Every runtime whose artefact exists in `export_dir`, Keras first."""
    runtimes = []
    if os.path.exists(os.path.join(export_dir, "model.keras")):
        runtimes.append(KerasRuntime(os.path.join(export_dir, "model.keras")))
    if os.path.isdir(os.path.join(export_dir, "saved_model")):
        runtimes.append(SavedModelRuntime(os.path.join(export_dir, "saved_model")))
    for variant in TFLITE_VARIANTS:
        path = os.path.join(export_dir, tflite_filename(variant))
        if os.path.exists(path):
            runtimes.append(TFLiteRuntime(path, num_threads))
    if not runtimes:
        raise ValueError(f"{export_dir} holds no exported model.")
    return runtimes


def self_contradictions(outputs, threshold, score_min, score_max):
    """How often an artefact contradicts itself: `(decisions, scalings)`, the counts
    of images whose `is_anomaly` is not `anomaly_score > threshold`, and whose
    `normalized_score` is off the stated scaling of `anomaly_score` by more than
    four float32 ulps (the head's float32 arithmetic)."""
    scores = outputs["anomaly_score"].astype(np.float32)
    decided = (scores > np.float32(threshold)).astype(outputs["is_anomaly"].dtype)
    span = np.float32(score_max) - np.float32(score_min)
    expected = np.clip((scores - np.float32(score_min)) / span, 0, 1)
    tolerance = 4 * np.finfo(np.float32).eps * (1 + np.abs(expected))
    return (
        int(np.sum(outputs["is_anomaly"] != decided)),
        int(np.sum(np.abs(outputs["normalized_score"] - expected) > tolerance)),
    )


def compare_runtimes(runtimes, images, labels, latency_repeats=50, calibration=None):
    """Scores of every runtime against the first (Keras), with AUROC and latency.

    Args:
        runtimes: from `load_runtimes`, Keras first.
        images: uint8 images of the models' input shape.
        labels: 1 = anomaly, 0 = normal.
        latency_repeats: batch-1 runs timed per runtime.
        calibration: optional `(threshold, score_min, score_max)` of the export
            (its metadata): each runtime is then checked against its own scores
            (`self_contradictions`).

    Returns:
        list of dicts, one per runtime: name, max_abs_diff, max_rel_diff,
        correlation, decision_agreement, auroc, latency_ms (batch 1), bytes, and
        with `calibration` "contradicted_decisions" and "contradicted_scalings".
    """
    labels = np.asarray(labels)
    reference = None
    rows = []
    for runtime in runtimes:
        outputs = runtime.run(images)
        scores = outputs["anomaly_score"].astype(np.float64)
        if reference is None:
            reference = outputs
        ref_scores = reference["anomaly_score"].astype(np.float64)
        difference = np.abs(scores - ref_scores)
        rows.append(
            {
                "name": runtime.name,
                "max_abs_diff": float(difference.max()),
                "max_rel_diff": float(
                    (difference / np.maximum(np.abs(ref_scores), 1e-12)).max()
                ),
                "correlation": float(np.corrcoef(scores, ref_scores)[0, 1]),
                "decision_agreement": float(
                    np.mean(outputs["is_anomaly"] == reference["is_anomaly"])
                ),
                "auroc": float(roc_auc_score(labels, scores)),
                "latency_ms": latency_ms(runtime, images, 1, latency_repeats),
                "bytes": directory_bytes(runtime.path),
            }
        )
        if calibration is not None:
            decisions, scalings = self_contradictions(outputs, *calibration)
            rows[-1].update(contradicted_decisions=decisions, contradicted_scalings=scalings)
    return rows


def markdown_table(rows):
    """`compare_runtimes`' rows as a Markdown table."""
    return results_table(
        ["artefact", "max abs diff", "max rel diff", "correlation", "decisions agree", "AUROC",
         "latency ms/image", "size", "decisions against own score"],
        [
            [r["name"], f"{r['max_abs_diff']:.2e}", f"{r['max_rel_diff']:.2e}",
             f"{r['correlation']:.6f}", f"{r['decision_agreement']:.4f}", f"{r['auroc']:.4f}",
             f"{r['latency_ms']:.3f}", f"{r['bytes'] / 1e6:.2f} MB",
             r.get("contradicted_decisions", "n/a")]
            for r in rows
        ],
    ).rstrip("\n")
