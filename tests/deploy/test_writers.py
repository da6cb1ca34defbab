"""deploy/writers.py: LiteRT conversion in child processes, split by cost, failures
summarised in one line, files XNNPACK cannot run marked."""


import json

import numpy as np
import pytest
from PIL import Image

from ganomaly_keras import GANomaly
from ganomaly_keras.deploy.export import export_model
from ganomaly_keras.deploy.runtimes import (
    TFLiteRuntime,
)
from ganomaly_keras.deploy.serving import to_uint8_images
from ganomaly_keras.deploy.writers import (
    conversion_groups,
    convert_in_subprocess,
    converter_error_summary,
)
from tests import helpers


@pytest.mark.slow
def test_an_int8_file_that_crashes_xnnpack_is_marked_and_still_runs(tmp_path):
    """ai-edge-litert 2.3.0's XNNPACK aborts on the int8 model of a width-16 GANomaly
    at 32x32. Export runs each file once in a child process and records the kernels
    that work; the runners follow the record instead of crashing."""
    import keras

    keras.utils.set_random_seed(0)
    model = GANomaly(image_size=32, channels=1, width=16)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 32, 32, 1)).astype("float32")
    model.calibrate(x)
    paths = export_model(model, tmp_path / "e", formats=("tflite_int8", "tflite_float32"), representative_data=x)
    metadata = json.load(open(paths["metadata"]))
    delegates = {k: a["litert_delegate"] for k, a in metadata["artefacts"].items()}
    assert set(delegates.values()) <= {"default", "none"}
    assert delegates["tflite_float32"] == "default"
    pixels = to_uint8_images(x[:3])
    runtime = TFLiteRuntime(paths["tflite_int8"])
    assert runtime.delegate == delegates["tflite_int8"]
    scores = runtime.run(pixels)["anomaly_score"]
    assert np.all(np.isfinite(scores))
    Image.fromarray(pixels[0, ..., 0]).save(tmp_path / "a.png")
    result = helpers.run_edge([paths["tflite_int8"], str(tmp_path / "a.png")], tmp_path)
    assert result.returncode == 0, result.stderr


def test_converter_failures_are_summarised_in_one_line():
    stderr = (
        "W0000 some warning\n"
        "<unknown>:0: error: loc(callsite(fused[...])): 'tf.ReluGrad' op is neither a custom op nor a flex op\n"
        "<unknown>:0: note: see current operation\n"
        "<unknown>:0: error: loc(fused[...]): 'tf.LeakyReluGrad' op is neither a custom op nor a flex op\n"
        "<unknown>:0: error: loc(fused[...]): 'tf.ReluGrad' op is neither a custom op nor a flex op\n"
        "}) {tf.entry_function = {control_outputs = \"\"}} : () -> ()\n"
    )
    assert converter_error_summary(stderr) == (
        "TensorFlow ops with no LiteRT builtin kernel: tf.LeakyReluGrad, tf.ReluGrad"
    )
    other = "loading\nRuntimeError: Quantization not yet supported for op: 'WHILE'\n}) : () -> ()\n"
    assert converter_error_summary(other) == "RuntimeError: Quantization not yet supported for op: 'WHILE'"
    assert converter_error_summary("") == "no output"


def test_conversions_are_split_across_concurrent_children_by_cost():
    groups = conversion_groups(["float32", "float16", "dynamic", "int8"], workers=2)
    assert sorted(v for g in groups for v in g) == ["dynamic", "float16", "float32", "int8"]
    assert groups == [["int8", "float16"], ["float32", "dynamic"]]  # 6.6 against 5.0
    assert conversion_groups(["int8"], workers=8) == [["int8"]]
    assert len(conversion_groups(["float32", "int8"], workers=1)) == 1


def test_a_failed_conversion_child_is_reported_with_what_is_missing(tmp_path):
    with pytest.raises(RuntimeError, match=r"variants not written: \['float32', 'float16'\]"):
        convert_in_subprocess(str(tmp_path / "no_saved_model"), ["float32", "float16"], str(tmp_path))

