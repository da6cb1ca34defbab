"""Training precision, chosen from the machine at hand.

Which precision trains fastest depends on the hardware: on a CPU with AVX512_BF16 or
AMX, `mixed_bfloat16` runs faster than float32; on an AVX2-only CPU TensorFlow emulates
bfloat16 and trains about 15 times slower; on a GPU `mixed_float16` uses its tensor
cores, but the detectors' two-optimizer step does not scale its losses yet, so
`train_run` refuses mixed_float16 and `auto` keeps float32 on a GPU for now.
`resolve_precision("auto")` reads the CPU flags and the visible GPUs and picks
one; the others are taken as given.

Mixed precision is a training setting only. Variables stay float32 under every
policy, and `float32_copy` rebuilds a trained detector in float32 for calibration,
scoring and export, so a score never carries bfloat16's 8-bit mantissa and the
exported graphs are the same whatever precision trained them.
"""

import contextlib
import os

from ganomaly_keras import arguments

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")

# CPU flags (Linux /proc/cpuinfo spelling) with native bfloat16 arithmetic.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags as a set of lower-case names ("avx2", "amx_bf16", ...).

    Read from Linux's /proc/cpuinfo; empty where that file does not exist (then
    `auto` chooses float32 on a CPU).
    """
    if not os.path.exists(cpuinfo):
        return set()
    with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                return set(value.lower().split())
    return set()


def gpu_available():
    """Whether TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(precision="auto", flags=None, gpu=None):
    """The Keras dtype policy name that `precision` means on this machine.

    Args:
        precision: "auto", "float32", "mixed_bfloat16" or "mixed_float16".
        flags: the CPU flags to decide on (default: `cpu_flags()`).
        gpu: whether a GPU trains (default: `gpu_available()`).

    Returns:
        "float32", "mixed_bfloat16" or "mixed_float16". `auto` gives mixed_bfloat16
        on a CPU with AVX512_BF16 or AMX and float32 otherwise, a GPU included
        (mixed_float16 needs loss scaling that the training step lacks).
    """
    arguments.choice("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    if gpu if gpu is not None else gpu_available():
        return "float32"
    flags = cpu_flags() if flags is None else {flag.lower() for flag in flags}
    if flags.intersection(BFLOAT16_CPU_FLAGS):
        return "mixed_bfloat16"
    return "float32"


@contextlib.contextmanager
def dtype_policy(policy):
    """Keras' global dtype policy set to `policy` inside the block, restored after.

    Models and layers take the global policy when they are constructed.
    """
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_copy(model):
    """`model` rebuilt under the float32 policy, with the same weights.

    Returns `model` itself when it computes in float32 already. The copy is not
    compiled: it is for calibration, scoring and export.
    """
    if model.dtype_policy.name == "float32":
        return model
    config = dict(model.get_config())
    config.pop("dtype", None)  # the policy the model was built under
    with dtype_policy("float32"):
        copy = model.__class__.from_config(config)
    if not copy.built:
        copy.build((None, model.input_size, model.input_size, model.channels))
    copy.set_weights(model.get_weights())
    return copy
