"""Writing a detector's serving graph to disk: SavedModel, and LiteRT in a child process.

`write_saved_model` writes the graph of `ganomaly_keras.deploy.serving.serving_function` with
two signatures, `serving_default` (any batch) and `serve_batch1`. `convert_in_subprocess`
converts the latter to `.tflite` files with builtin operators only (no Flex ops, so a
plain LiteRT runtime runs them), in a child process; `litert_delegate` runs each file
once, also in a child, and says which LiteRT kernels can run it. Files are written
under a temporary name and renamed, so a crash never leaves half a file.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from ganomaly_keras.deploy import float_head
from ganomaly_keras.deploy.metadata import (
    EDGE_SIGNATURE,
    INPUT_NAME,
    SERVING_SIGNATURE,
    TFLITE_VARIANTS,
)
from ganomaly_keras.deploy.serving import serving_function


def tflite_filename(variant):
    """The file name of a LiteRT variant in an export folder."""
    return f"model_{variant}.tflite"


def write_saved_model(model, path):
    """The SavedModel of `model`'s serving graph at `path` (uint8 images in)."""
    shape = (*model.input_hw, model.channels)
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
    if variant == "int8" and representative_images is None:
        raise ValueError(
            "the int8 export needs representative_data: normal training images "
            "to calibrate activation ranges."
        )
    converter = _converter(saved_model_dir)
    if variant == "float32":
        return converter.convert()
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
        # The float16 pass stores every float constant in float16, the head's too.
        return float_head.restore_float32_head(
            converter.convert(), _converter(saved_model_dir).convert()
        )
    if variant == "dynamic":  # int8 weights of 1,024 elements or more; scalars stay
        return converter.convert()

    def representative_dataset():
        for image in representative_images:
            yield {INPUT_NAME: image[None]}

    converter.representative_dataset = representative_dataset
    with warnings.catch_warnings():
        # The converter calibrates int8 with tf.lite.Interpreter internally; its
        # deprecation notice is about TensorFlow's code, not this call.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        return float_head.int8_with_float_head(converter)


def _converter(saved_model_dir):
    """A converter of the SavedModel's batch-1 signature to builtin operators only
    (no Flex ops, so a plain LiteRT runtime runs the file)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=[EDGE_SIGNATURE]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def converter_error_summary(stderr):
    """One line of what matters in the TFLite converter's (long, MLIR-laden) output."""
    unsupported = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", stderr)))
    if unsupported:
        return "TensorFlow ops with no LiteRT builtin kernel: " + ", ".join(unsupported)
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return ((errors or lines or ["no output"])[-1])[:500]


# Relative conversion times, measured on a 32x32 GANomaly (int8 calibrates on the
# representative images; float16 only casts weights): used to balance the children.
_CONVERSION_COST = {"int8": 4.8, "float32": 2.9, "dynamic": 2.1, "float16": 1.8}


def conversion_groups(variants, workers):
    """`variants` split into at most `workers` groups of about equal conversion time,
    the costliest first (greedy: each variant joins the least loaded group)."""
    workers = max(1, min(int(workers), len(variants)))
    groups, loads = [[] for _ in range(workers)], [0.0] * workers
    for variant in sorted(variants, key=lambda v: -_CONVERSION_COST.get(v, 1.0)):
        least = loads.index(min(loads))
        groups[least].append(variant)
        loads[least] += _CONVERSION_COST.get(variant, 1.0)
    return [group for group in groups if group]


def convert_in_subprocess(
    saved_model_dir, variants, out_dir, representative_images=None, timeout=1800, workers=None,
):
    """`convert_to_tflite` for each of `variants`, in child Python processes.

    TensorFlow's TFLite converter and int8 calibrator are native code that can abort
    the whole process (heap corruption on some models and activation ranges; see
    tensorflow/tensorflow#120295 and relatives; measured here once on an untrained
    width-16 model). In a child process such a crash becomes a `RuntimeError`, and
    the caller (a training run, a notebook) survives it.

    The variants are split into `workers` groups (default: one per CPU core, at most
    one per variant), each converted by its own child, all children at once: most of
    a child's time is importing TensorFlow and converting, one core each.

    Writes `tflite_filename(variant)` files into `out_dir`.
    """
    groups = conversion_groups(variants, workers or os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "ganomaly_keras.deploy.writers", saved_model_dir, out_dir]
        images = []
        if representative_images is not None:
            images = [os.path.join(folder, "representative.npy")]
            np.save(images[0], representative_images)
        # Each child's stderr goes to its own file, not a pipe: a pipe read only after
        # the previous child finished could fill and stall the child writing to it.
        logs = [os.path.join(folder, f"converter-{i}.log") for i in range(len(groups))]
        children = []
        for group, log in zip(groups, logs):
            with open(log, "w") as stderr:
                children.append(subprocess.Popen(
                    [*command, ",".join(group), *images], stdout=subprocess.DEVNULL,
                    stderr=stderr, env=_child_environment(),
                ))
        results = []
        try:
            deadline = time.monotonic() + timeout
            for child, log in zip(children, logs):
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
                with open(log, errors="replace") as stderr:
                    results.append((child.returncode, stderr.read()))
        finally:
            for child in children:  # a timeout or an interrupt leaves no orphan
                if child.poll() is None:
                    child.kill()
                    child.wait()
    missing = [v for v in variants if not os.path.exists(os.path.join(out_dir, tflite_filename(v)))]
    failed = [(code, stderr) for code, stderr in results if code != 0]
    if failed or missing:
        code, stderr = (failed or results)[0]
        raise RuntimeError(
            f"TensorFlow's TFLite converter failed (exit status {code}: "
            f"{converter_error_summary(stderr)}); variants not written: {missing}. Export "
            "the other formats (formats=...), or calibrate int8 with other representative "
            "images."
        )


def litert_delegate(path, timeout=300):
    """Which LiteRT kernels run `path`: "default" (XNNPACK), else "none" (the
    builtin kernels alone).

    ai-edge-litert 2.3.0's XNNPACK aborts the process on some int8 models (measured:
    GANomaly of width 16 at 32x32); each file is therefore run once in a child
    process (`python -m ganomaly_keras.edge PATH --smoke-test DELEGATE`). Raises
    RuntimeError when neither way runs it.
    """
    for delegate in ("default", "none"):
        result = subprocess.run(
            [sys.executable, "-m", "ganomaly_keras.edge", path, "--smoke-test", delegate],
            capture_output=True, text=True, timeout=timeout, env=_child_environment(),
        )
        if result.returncode == 0:
            return delegate
    raise RuntimeError(
        f"LiteRT cannot run {path}, with or without XNNPACK: "
        f"{(result.stderr.strip().splitlines() or ['no output'])[-1]}"
    )


def _child_environment():
    """This process's environment, with this very package importable (installed or
    not) and TensorFlow's C++ logs limited to warnings."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=path)


def _convert_main(argv):
    """`python -m ganomaly_keras.deploy.writers SAVED_MODEL OUT_DIR VARIANTS [IMAGES.npy]`."""
    saved_model_dir, out_dir, variants = argv[:3]
    images = np.load(argv[3]) if len(argv) > 3 else None
    for variant in variants.split(","):
        flatbuffer = convert_to_tflite(saved_model_dir, variant, images)
        # Written under a temporary name and renamed: no half-written file on a crash.
        path = os.path.join(out_dir, tflite_filename(variant))
        with open(path + ".part", "wb") as handle:
            handle.write(flatbuffer)
        os.replace(path + ".part", path)



if __name__ == "__main__":
    _convert_main(sys.argv[1:])
