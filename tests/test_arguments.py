"""ganomaly_keras/arguments.py: bad Python arguments name the argument."""


import os

import numpy as np
import pytest

from ganomaly_keras import GANomaly, arguments
from ganomaly_keras.data.spec import DataSpec
from ganomaly_keras.training.callbacks import AUROCCallback, StepBudget
from ganomaly_keras.training.run import train_run


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


BAD_CALLS = [
    (lambda: GANomaly(image_size=16, channels=1, contextual_weight=-1.0), "contextual_weight"),
    (lambda: GANomaly(image_size=16, channels=1, latent_size=0), "latent_size"),
    (lambda: GANomaly(image_size=16, channels=1, discriminator_reset_threshold=float("nan")),
     "discriminator_reset_threshold"),
    (lambda: DataSpec(seed=-3), "seed"),
    (lambda: DataSpec(validation_fraction=1.0), "validation_fraction"),
    (lambda: DataSpec(on_error="ignore"), "on_error"),
    (lambda: DataSpec(channels=4), "channels"),
    (lambda: DataSpec(image_size=48), "power of two"),
    (lambda: train_run("r", DataSpec(), batch_size=0), "batch_size"),
    (lambda: train_run("r", DataSpec(), epochs=0), "epochs"),
    (lambda: train_run("r", DataSpec(), export_formats=("onnx",)), "export format"),
    (lambda: train_run("r", DataSpec(), strategy="tpu"), "strategy"),
    (lambda: train_run("r", DataSpec(), jit_compile="yes"), "jit_compile"),
    (lambda: AUROCCallback(np.zeros((2, 16, 16, 1)), [0, 1], every=0), "every"),
    (lambda: StepBudget(0), "steps"),
    (lambda: arguments.fraction("p", True), "p must be"),
]


@pytest.mark.parametrize("call,name", BAD_CALLS)
def test_bad_python_arguments_name_the_argument(call, name, tmp_path):
    with pytest.raises(ValueError, match=name):
        call()
    assert not os.path.exists(tmp_path / "r")

