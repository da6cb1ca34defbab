"""The calibration head of quantised LiteRT files, kept in float32.

Every exported file computes `normalized_score` and `is_anomaly` from its own
`anomaly_score` with the calibration head (`ganomaly_keras.deploy.serving.calibration_head`,
its ops under the name scope `HEAD_SCOPE`). Quantisation must not touch that head:

- int8: quantised, the head compares the int8 score with a threshold rounded onto the
  score's int8 grid, so a file could report a score above its threshold and decide
  "normal" (measured: a band up to 20% of the threshold wide on an AVX2 CPU).
  `int8_with_float_head` quantises the network and leaves the head's ops in float32
  (TensorFlow's selective quantisation): they read the dequantised score, the very
  tensor the file outputs as `anomaly_score`.
- float16: the float16 pass stores every float constant in float16, the threshold
  and the scaling too. `restore_float32_head` puts the head's float32 constants back.

`check_float_head` verifies the result on the written flatbuffer. Together they
make `is_anomaly == (anomaly_score > threshold)` and `normalized_score` the stated
scaling of `anomaly_score`, in float32, for every image and every file.
"""

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

from ganomaly_keras.deploy.metadata import EDGE_SIGNATURE
from ganomaly_keras.deploy.serving import HEAD_SCOPE

# What the head's tensors may hold: float32 values, the comparison's bool, the
# decision's int32.
HEAD_TYPES = (schema.TensorType.FLOAT32, schema.TensorType.BOOL, schema.TensorType.INT32)


def _name(tensor):
    return tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name


def head_tensor_names(model):
    """Names of the calibration head's tensors in a LiteRT model object: those under
    `HEAD_SCOPE`, and the `normalized_score` and `is_anomaly` outputs (the head's last
    ops carry the signature's output names)."""
    graph = model.subgraphs[0]
    names = {_name(t) for t in graph.tensors if _name(t).startswith(HEAD_SCOPE + "/")}
    signature = next(
        s for s in model.signatureDefs
        if (s.signatureKey.decode() if isinstance(s.signatureKey, bytes) else s.signatureKey)
        == EDGE_SIGNATURE
    )
    for output in signature.outputs:
        name = output.name.decode() if isinstance(output.name, bytes) else output.name
        if name in ("normalized_score", "is_anomaly"):
            names.add(_name(graph.tensors[output.tensorIndex]))
    return sorted(names)


def _read(model_content):
    return flatbuffer_utils.convert_bytearray_to_object(bytearray(model_content))


def int8_with_float_head(converter):
    """Convert with full-integer quantisation of the network and the calibration
    head in float32.

    Args:
        converter: a `tf.lite.TFLiteConverter` with `optimizations` and a
            `representative_dataset` set.

    Returns:
        the `.tflite` bytes.
    """
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter)
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=head_tensor_names(_read(debugger.calibrated_model))
    )
    flatbuffer = bytes(debugger.get_nondebug_quantized_model())
    check_float_head(flatbuffer)
    return flatbuffer


def _constants(model):
    """`{name: float32 array}` of the head's float32 constants of a model object."""
    graph = model.subgraphs[0]
    found = {}
    for tensor in graph.tensors:
        data = model.buffers[tensor.buffer].data if tensor.buffer else None
        if (
            _name(tensor).startswith(HEAD_SCOPE + "/")
            and tensor.type == schema.TensorType.FLOAT32
            and data is not None and len(data)
        ):
            found[_name(tensor)] = np.frombuffer(bytes(bytearray(data)), np.float32)
    return found


def restore_float32_head(float16_model, float32_model):
    """A float16-weights LiteRT file with its calibration head's constants in float32.

    The float16 pass stores each float constant in float16 behind a DEQUANTIZE op.
    For each such constant of the head, the DEQUANTIZE op is removed and its output
    becomes a constant holding the float32 value of the same tensor in the float32
    conversion of the same graph.

    Args:
        float16_model: the `.tflite` bytes of the float16 conversion.
        float32_model: the `.tflite` bytes of the float32 conversion.

    Returns:
        the mended float16 `.tflite` bytes.
    """
    values = _constants(_read(float32_model))
    model = _read(float16_model)
    graph = model.subgraphs[0]
    kept = []
    for op in graph.operators:
        source = graph.tensors[op.inputs[0]] if len(op.inputs) else None
        is_dequantize = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) == "DEQUANTIZE"
        if is_dequantize and source.type == schema.TensorType.FLOAT16 and _name(source) in values:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(values[_name(source)].tobytes(), np.uint8)
            model.buffers.append(buffer)
            graph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1
            continue
        kept.append(op)
    graph.operators = kept
    flatbuffer = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    check_float_head(flatbuffer)
    return flatbuffer


def check_float_head(model_content):
    """Raise RuntimeError if an operator of a LiteRT model reads or writes a head
    tensor that is not float32 (bool or int32 for the decision)."""
    model = _read(model_content)
    graph = model.subgraphs[0]
    head = set(head_tensor_names(model))
    used = {i for op in graph.operators for i in list(op.inputs) + list(op.outputs) if i >= 0}
    wrong = sorted(
        _name(graph.tensors[i]) for i in used
        if _name(graph.tensors[i]) in head and graph.tensors[i].type not in HEAD_TYPES
    )
    if wrong:
        raise RuntimeError(
            f"the LiteRT file computes its calibration head in reduced precision "
            f"({wrong}); its decisions could contradict its own scores."
        )
