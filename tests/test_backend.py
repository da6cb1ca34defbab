"""ganomaly_keras/backend.py: importing the package loads no TensorFlow and sets no
variable; TensorFlow's start-up banners are filtered, other stderr kept."""


import json
import os
import subprocess
import sys

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

