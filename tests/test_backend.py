"""ganomaly_keras/backend.py: importing the package loads no TensorFlow and sets no
variable; TensorFlow's start-up banners are filtered, other stderr kept."""


import json
import os
import subprocess
import sys

import pytest

from tests.settings import REPO


def _fresh_python(code):
    """Run `code` in a new interpreter without the TF_/KERAS variables; it must pass."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS"))}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env=environment, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_importing_the_package_loads_no_tensorflow_and_sets_no_variable():
    code = (
        "import os, sys, json\n"
        "before = dict(os.environ)\n"
        "import ganomaly_keras, ganomaly_keras.edge, ganomaly_keras.deploy.metadata\n"
        "ganomaly_keras.__version__, ganomaly_keras.EdgeDetector\n"
        "print(json.dumps({'tf': [m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras')], 'changed': sorted(set(os.environ.items()) ^ "
        "set(before.items()))}))\n"
    )
    result = _fresh_python(code)
    assert json.loads(result.stdout) == {"tf": [], "changed": []}


def test_tensorflow_prints_no_start_up_banner_but_keeps_other_stderr():
    code = (
        "import sys\n"
        "from ganomaly_keras import configure_tensorflow\n"
        "configure_tensorflow()\n"
        "import keras, numpy as np\n"
        "keras.layers.Conv2D(2, 3)(np.zeros((1, 8, 8, 1), 'float32'))\n"
        "print('after', file=sys.stderr)\n"
    )
    result = _fresh_python(code)
    assert "oneDNN" not in result.stderr and "absl::InitializeLog" not in result.stderr
    assert "after" in result.stderr


def test_banner_filter_drops_only_tensorflow_info_records():
    from ganomaly_keras.backend import strip_tensorflow_banners

    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796243770.466044    2344 port.cc:153] oneDNN custom operations are on.\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild "
        "TensorFlow with the appropriate compiler flags.\n"
        "E0000 00:00:1796243770.466044    2344 cuda.cc:1] a real error\n"
        "UserWarning: something\n"
    )
    assert strip_tensorflow_banners(text) == (
        "E0000 00:00:1796243770.466044    2344 cuda.cc:1] a real error\nUserWarning: something\n"
    )



def test_the_first_fit_warns_once_when_tensorflow_runs_without_onednn(monkeypatch, rng):
    """On an AVX2 CPU TensorFlow leaves oneDNN off unless told; a user's own script
    that never called configure_tensorflow() hears it once, at its first fit."""
    import warnings

    from ganomaly_keras import GANomaly, backend
    from ganomaly_keras.training import precision

    monkeypatch.setattr(backend, "_WARNED", [])
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.setattr(backend, "onednn_enabled", lambda: False)
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2", "fma"})
    model = GANomaly(image_size=16, channels=1, width=8, latent_size=8)
    model.compile(jit_compile=False)
    x = rng.uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    with pytest.warns(UserWarning, match="configure_tensorflow.*TF_ENABLE_ONEDNN_OPTS=1"):
        model.fit(x, epochs=1, batch_size=8, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, epochs=1, batch_size=8, verbose=0)  # once per process
    # Someone who chose, or a process where oneDNN runs, hears nothing.
    monkeypatch.setattr(backend, "_WARNED", [])
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, epochs=1, batch_size=8, verbose=0)
