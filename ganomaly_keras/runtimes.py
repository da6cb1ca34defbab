"""Running an export folder's artefacts side by side on the same uint8 images.

Each runtime scores raw uint8 images `(n, size, size, channels)` and returns the four
outputs of `ganomaly_keras.export` as NumPy arrays; `compare_runtimes` lines them up
against the Keras model. `export/verify_export.py` and the benchmark print what it
measures.
"""

import json
import os
import time

import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from ganomaly_keras.export import (
    EDGE_SIGNATURE,
    INPUT_NAME,
    SERVING_SIGNATURE,
    TFLITE_VARIANTS,
    serving_function,
    tflite_filename,
)
from ganomaly_keras.saving import load_model


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
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        if delegate is None:
            delegate = _recorded_delegate(path)
        options = {}
        if delegate == "none":
            options["experimental_op_resolver_type"] = (
                OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
        self.delegate = delegate
        self.interpreter = Interpreter(model_path=path, num_threads=num_threads, **options)
        self.runner = self.interpreter.get_signature_runner(EDGE_SIGNATURE)
        self.name = "tflite_" + os.path.basename(path)[len("model_") : -len(".tflite")]
        self.path = path

    def run(self, images):
        outputs = [self.runner(**{INPUT_NAME: image[None]}) for image in images]
        return {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}


def _recorded_delegate(path):
    metadata_path = os.path.join(os.path.dirname(os.path.abspath(path)), "metadata.json")
    if not os.path.exists(metadata_path):
        return "default"
    with open(metadata_path) as handle:
        artefacts = json.load(handle).get("artefacts", {})
    for artefact in artefacts.values():
        if artefact.get("file") == os.path.basename(path):
            return artefact.get("litert_delegate", "default")
    return "default"


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


def latency_ms(runtime, images, batch_size=1, repeats=50, warmup=5):
    """Median milliseconds per image when `runtime` scores batches of `batch_size`."""
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


def artefact_bytes(path):
    if os.path.isdir(path):
        return sum(
            os.path.getsize(os.path.join(folder, name))
            for folder, _, names in os.walk(path)
            for name in names
        )
    return os.path.getsize(path)


def compare_runtimes(runtimes, images, labels, latency_repeats=50):
    """Scores of every runtime against the first (Keras), with AUROC and latency.

    Returns:
        list of dicts, one per runtime: name, max_abs_diff, max_rel_diff,
        correlation, decision_agreement, auroc, latency_ms (batch 1), bytes.
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
                "bytes": artefact_bytes(runtime.path),
            }
        )
    return rows


def check_targets(rows):
    """The export targets of the project (issue 4), each with its measured value."""
    by_name = {row["name"]: row for row in rows}
    checks = []
    keras_row = by_name.get("keras")
    if "tflite_float32" in by_name:
        value = by_name["tflite_float32"]["max_rel_diff"]
        checks.append(("float32 TFLite scores = Keras within 1e-4 relative", value, value <= 1e-4))
    if "tflite_int8" in by_name and keras_row:
        drop = keras_row["auroc"] - by_name["tflite_int8"]["auroc"]
        checks.append(("int8 AUROC within 0.005 of Keras", drop, drop <= 0.005))
    if "tflite_int8" in by_name:
        value = by_name["tflite_int8"]["latency_ms"]
        checks.append(("int8 latency <= 0.2 ms per image (batch 1, 1 thread)", value, value <= 0.2))
    if "tflite_int8" in by_name and "tflite_float32" in by_name:
        ratio = by_name["tflite_float32"]["bytes"] / by_name["tflite_int8"]["bytes"]
        checks.append(("int8 file <= 1/3.5 of float32 (ratio >= 3.5)", ratio, ratio >= 3.5))
    return checks


def markdown_table(rows):
    header = (
        "| artefact | max abs diff | max rel diff | correlation | decisions agree | "
        "AUROC | latency ms/image | size |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [
        f"| {r['name']} | {r['max_abs_diff']:.2e} | {r['max_rel_diff']:.2e} | "
        f"{r['correlation']:.6f} | {r['decision_agreement']:.4f} | {r['auroc']:.4f} | "
        f"{r['latency_ms']:.3f} | {r['bytes'] / 1e6:.2f} MB |"
        for r in rows
    ]
    return "\n".join([header] + lines)


def read_metadata(export_dir):
    with open(os.path.join(export_dir, "metadata.json")) as handle:
        return json.load(handle)
