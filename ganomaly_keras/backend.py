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
  logger once it runs; warnings and errors still print.
- With `quiet=True`, TensorFlow is then imported with the process's stderr (file
  descriptor 2) captured, and what it wrote is passed on less its start-up INFO
  banners: the oneDNN notice and the CPU-feature notice. TensorFlow 2.21 logs those
  through absl before its logger is initialised, where no variable reaches them.
"""

import os
import re
import sys
import tempfile
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
    if quiet:
        import_tensorflow_quietly()
    return chosen


# TensorFlow's start-up INFO lines: absl's notice that it logs to stderr, INFO records
# ("I1202 19:01:42.123 123 port.cc:153] ...") and the CPU-feature notice's second line.
_BANNER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|I\d{4} [\d:. ]+\d+ \S+:\d+\] "
    r"|To enable the following instructions: .* rebuild TensorFlow)"
)


def strip_tensorflow_banners(text):
    """`text` without TensorFlow's start-up INFO lines (every other line kept)."""
    return "".join(line for line in text.splitlines(keepends=True) if not _BANNER.match(line))


def import_tensorflow_quietly():
    """Import TensorFlow with its start-up INFO banners filtered out of stderr.

    Everything else TensorFlow writes to stderr while loading (warnings, errors,
    tracebacks) is passed on. Does nothing once TensorFlow is imported.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            sys.stderr.write(strip_tensorflow_banners(capture.read().decode(errors="replace")))
            sys.stderr.flush()


def require_tensorflow_backend():
    """Raise ImportError unless Keras runs on TensorFlow."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            "ganomaly_keras needs Keras' TensorFlow backend, but KERAS_BACKEND is "
            f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before importing "
            "keras (ganomaly_keras.configure_tensorflow() does)."
        )


_WARNED = []


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN kernels in this process (None where it
    cannot tell)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def warn_if_slow_defaults():
    """Warn once per process when TensorFlow was loaded without its oneDNN kernels on
    an x86 CPU with AVX2, where they train these networks much faster: TensorFlow
    leaves them off on CPUs without AVX-512 unless told. Says nothing when the user
    chose (`TF_ENABLE_ONEDNN_OPTS` set) or where oneDNN is on."""
    if _WARNED or "TF_ENABLE_ONEDNN_OPTS" in os.environ:
        return
    _WARNED.append(True)
    from ganomaly_keras.training.precision import cpu_flags

    if onednn_enabled() is False and "avx2" in cpu_flags():
        warnings.warn(
            "TensorFlow was imported without its oneDNN kernels, which train these "
            "networks markedly faster on this CPU (docs/cli.md, \"Speed\"). Call "
            "ganomaly_keras.configure_tensorflow() before anything imports TensorFlow, "
            "or set TF_ENABLE_ONEDNN_OPTS=1.",
            stacklevel=3,
        )
