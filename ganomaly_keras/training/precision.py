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
# Parts of oneDNN's ISA names (ONEDNN_MAX_CPU_ISA) whose kernels compute bfloat16.
BFLOAT16_ISA_NAMES = ("BF16", "AMX", "FP16", "AVX10", "ALL")


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


def onednn_bfloat16_blocked(environment=None, flags=None):
    """Whether `ONEDNN_MAX_CPU_ISA` caps oneDNN below bfloat16 on a CPU that has it.

    TensorFlow sends bfloat16 work to oneDNN when the CPU reports bfloat16 support;
    capped (`ONEDNN_MAX_CPU_ISA=AVX2`, to run as on an AVX2 machine), oneDNN then
    cannot create those kernels and training fails. On a real AVX2 CPU TensorFlow
    emulates bfloat16 in its own kernels instead.

    Args:
        environment: the variables to read (default `os.environ`).
        flags: the CPU flags (default: `cpu_flags()`).
    """
    cap = (environment if environment is not None else os.environ).get(
        "ONEDNN_MAX_CPU_ISA", ""
    ).upper()
    if not cap or any(name in cap for name in BFLOAT16_ISA_NAMES):
        return False
    flags = cpu_flags() if flags is None else {flag.lower() for flag in flags}
    return bool(flags.intersection(BFLOAT16_CPU_FLAGS))


def resolve_precision(precision="auto", flags=None, gpu=None):
    """The Keras dtype policy name that `precision` means on this machine.

    Args:
        precision: "auto", "float32", "mixed_bfloat16" or "mixed_float16".
        flags: the CPU flags to decide on (default: `cpu_flags()`).
        gpu: whether a GPU trains (default: `gpu_available()`).

    Returns:
        "float32", "mixed_bfloat16" or "mixed_float16". `auto` gives mixed_bfloat16
        on a CPU with AVX512_BF16 or AMX whose oneDNN kernels are not capped below
        bfloat16 (`onednn_bfloat16_blocked`), and float32 otherwise, a GPU included
        (mixed_float16 needs loss scaling that the training step lacks).

    Raises:
        ValueError: for mixed_bfloat16 where oneDNN is capped below bfloat16.
    """
    arguments.choice("precision", precision, PRECISIONS)
    flags = cpu_flags() if flags is None else {flag.lower() for flag in flags}
    blocked = onednn_bfloat16_blocked(flags=flags)
    if precision == "mixed_bfloat16" and blocked:
        raise ValueError(
            "mixed_bfloat16 cannot train here: ONEDNN_MAX_CPU_ISA="
            f"{os.environ['ONEDNN_MAX_CPU_ISA']} caps oneDNN below the bfloat16 kernels "
            "TensorFlow sends this CPU's bfloat16 work to. Unset it, or train in float32."
        )
    if precision != "auto":
        return precision
    if gpu if gpu is not None else gpu_available():
        return "float32"
    if flags.intersection(BFLOAT16_CPU_FLAGS) and not blocked:
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
        copy.build((None, *model.input_hw, model.channels))
    copy.set_weights(model.get_weights())
    return copy
