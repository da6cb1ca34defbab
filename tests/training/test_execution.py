"""training/execution.py: deterministic runs are bit-identical."""


import json
import os
import subprocess
import sys

import pytest

from tests.settings import REPO


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


_TWICE = """
import json, sys
import numpy as np
from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.training.run import train_run
from ganomaly_keras.saving import load_model
results = []
for name in ("a", "b"):
    metrics = train_run(
        sys.argv[1] + "/" + name, DataSpec(image_size=16, seed=3),
        {"width": 8, "latent_size": 8}, epochs=1, export_formats=(), verbose=0,
        deterministic=True,
    )
    model = load_model(sys.argv[1] + "/" + name + "/model.keras")
    results.append(([w.numpy() for w in model.weights], metrics["test"]["auroc"]))
(wa, auroc_a), (wb, auroc_b) = results
print(json.dumps({
    "identical_weights": all(np.array_equal(x, y) for x, y in zip(wa, wb)),
    "aurocs": [auroc_a, auroc_b],
}))
"""


@pytest.mark.slow
def test_deterministic_runs_are_bit_identical(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, "-c", _TWICE, str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["identical_weights"]
    assert report["aurocs"][0] == report["aurocs"][1]
    config = json.load(open(tmp_path / "a" / "config.json"))
    assert config["training"]["deterministic"] is True

