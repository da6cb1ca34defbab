"""TensorFlow's process settings for this package, applied on request only.

Importing `ganomaly_keras` sets nothing and imports no TensorFlow. The
`ganomaly-keras` command, the examples and the tests call `configure_tensorflow()`
first; call it yourself at the top of a script, before anything imports TensorFlow,
to get the same settings. Each is a default: a variable you set yourself wins.

- `KERAS_BACKEND=tensorflow`: the package's models need Keras' TensorFlow backend.
- `TF_ENABLE_ONEDNN_OPTS=1`: oneDNN kernels double the training speed of these
  convolutions on CPUs where TensorFlow leaves them off by default (AMD, for one).
- `TF_NUM_INTEROP_THREADS=1`: one op at a time, each using every core. With
  TensorFlow's default of running ops concurrently too, the two thread pools
  oversubscribe the cores, and training speed halves at random from one process to
  the next (measured on 2 cores: 125 or 230 images/s by default, 226 every time
  with this).
- `TF_CPP_MIN_LOG_LEVEL=1` (with `quiet=True`): no C++ INFO lines from TensorFlow's
  logger (the CPU-feature banner); warnings and errors still print. The oneDNN line
  is logged before that logger starts, and still prints (TensorFlow 2.21).
"""

import os
import sys
import warnings

SETTINGS = {
    "KERAS_BACKEND": "tensorflow",
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


def configure_tensorflow(quiet=True):
    """Set the package's TensorFlow defaults in `os.environ` (see the module doc).

    Args:
        quiet: also hide TensorFlow's C++ INFO lines.

    Returns:
        dict of the variables this call set (those already set are left alone).
    """
    wanted = dict(SETTINGS, **({"TF_CPP_MIN_LOG_LEVEL": "1"} if quiet else {}))
    chosen = {k: v for k, v in wanted.items() if k not in os.environ}
    os.environ.update(chosen)
    if "tensorflow" in sys.modules and chosen:
        warnings.warn(
            "configure_tensorflow() was called after TensorFlow was imported, so "
            f"{sorted(chosen)} take effect in child processes only; call it before "
            "importing keras or tensorflow.",
            stacklevel=2,
        )
    return chosen


def require_tensorflow_backend():
    """Raise ImportError unless Keras runs on TensorFlow."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            "ganomaly_keras needs Keras' TensorFlow backend, but KERAS_BACKEND is "
            f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before importing "
            "keras (ganomaly_keras.configure_tensorflow() does)."
        )
