"""ganomaly_keras/saving.py: atomic files and folders that survive SIGKILL, models that
train on after loading, files of the package before its modules moved, and models
with code refused."""


import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from ganomaly_keras import GANomaly
from ganomaly_keras.saving import load_model, replace_directory, save_model_atomically
from tests import helpers
from tests.settings import REPO, TESTS

pytestmark = pytest.mark.usefixtures("chdir_tmp")


_KILLED_EXPORT = """
import os, signal, sys
import numpy as np, keras
import ganomaly_keras.deploy.export as export
import ganomaly_keras.saving as saving
from ganomaly_keras import GANomaly
out, stage = sys.argv[1:]
keras.utils.set_random_seed(0)
model = GANomaly(image_size=16, channels=1, width=8, latent_size=8)
x = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
model.calibrate(x, np.array([0, 1] * 4))
saving.save_model_atomically(model, out + ".keras")
export.export_model(model, out, formats=("keras", "saved_model"), validation={"round": 0})


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def after(function):
    def wrapped(*args, **kwargs):
        function(*args, **kwargs)
        die()
    return wrapped


def before(function):
    def wrapped(*args, **kwargs):
        die()
    return wrapped


# The second export is killed at `stage`, from inside the export itself.
if stage == "model_file":  # the .keras file written in full under its temporary name
    saving.os.replace = before(os.replace)
    saving.save_model_atomically(model, out + ".keras")
if stage == "saved_model":  # the staging folder half built
    export.write_saved_model = after(export.write_saved_model)
if stage == "swap":  # the staging folder complete, the swap not yet made
    export.replace_directory = before(export.replace_directory)
export.export_model(model, out, formats=("keras", "saved_model"), validation={"round": 1})
"""


def _check_export_is_whole(out):
    metadata = json.load(open(os.path.join(out, "metadata.json")))
    for entry in metadata["artefacts"].values():
        path = os.path.join(out, entry["file"])
        size = sum(
            os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs
        ) if os.path.isdir(path) else os.path.getsize(path)
        assert size == entry["bytes"], entry
    load_model(os.path.join(out, "model.keras"))
    load_model(out + ".keras")
    return metadata["validation"]["round"]


def make_trained(x):
    model = GANomaly(
        image_size=16, channels=1, latent_size=16, width=8, contextual_weight=40.0,
        score="latent_l1", seed=3,
    )
    model.compile(
        generator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.4),
        jit_compile=False,
    )
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    return model


@pytest.fixture
def x(rng):
    return rng.uniform(-1, 1, (32, 16, 16, 1)).astype("float32")


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["model_file", "saved_model", "swap"])
def test_sigkill_inside_an_export_leaves_the_previous_export_whole(tmp_path, stage):
    out = str(tmp_path / "export")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    child = subprocess.run([sys.executable, "-c", _KILLED_EXPORT, out, stage], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr  # killed where asked
    assert _check_export_is_whole(out) == 0  # the first export, whole
    leftovers = [e for e in os.listdir(tmp_path) if e.startswith(".")]
    if stage == "model_file":  # the killed save's temporary file, never the model
        assert len(leftovers) == 1 and leftovers[0].startswith(".export.keras.")
        return
    assert leftovers  # the killed export's half-built folder
    # The next export cleans what the killed one left half-built.
    from ganomaly_keras.deploy.export import export_model

    export_model(load_model(out + ".keras"), out, formats=("keras",))
    assert [e for e in os.listdir(tmp_path) if e.startswith(".")] == []


def test_replace_directory_swaps_atomically(tmp_path):
    old, new = tmp_path / "target", tmp_path / "staging"
    old.mkdir()
    (old / "a").write_text("old")
    new.mkdir()
    (new / "a").write_text("new")
    replace_directory(str(new), str(old))
    assert (old / "a").read_text() == "new" and not new.exists()
    # An interrupted fallback swap (old folder set aside, new not yet in) is undone.
    aside = tmp_path / ".target.old"
    os.replace(old, aside)
    staging = tmp_path / "s2"
    staging.mkdir()
    (staging / "a").write_text("newer")
    replace_directory(str(staging), str(old))
    assert (old / "a").read_text() == "newer" and not aside.exists()


def test_models_with_code_are_refused(tmp_path, capsys):
    unsafe = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    path = str(tmp_path / "unsafe.keras")
    unsafe.save(path)
    with pytest.raises(ValueError, match="holds Python code"):
        load_model(path)
    assert helpers.status(["evaluate", path]) == 2
    assert "holds Python code" in capsys.readouterr().err


def test_loaded_model_trains_on_exactly_like_the_original(tmp_path, x):
    model = make_trained(x)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    # Same data order, same state: the next epoch must give the same losses.
    a = model.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    b = loaded.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    for name in ("g_loss", "d_loss"):
        assert b[name][0] == pytest.approx(a[name][0], rel=1e-4)
    assert int(loaded.optimizer.iterations) == 8


def test_atomic_save_replaces_and_leaves_no_temporary_file(tmp_path, x):
    model = make_trained(x)
    path = tmp_path / "sub" / "model.keras"
    save_model_atomically(model, path)
    save_model_atomically(model, path)  # replaces the existing file
    assert sorted(os.listdir(path.parent)) == ["model.keras"]
    np.testing.assert_array_equal(
        keras.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0)
    )
    with pytest.raises(ValueError, match=".keras"):
        save_model_atomically(model, tmp_path / "model.h5")


def test_failed_save_keeps_the_previous_file(tmp_path, x, monkeypatch):
    model = make_trained(x)
    path = tmp_path / "model.keras"
    save_model_atomically(model, path)
    before = path.read_bytes()

    def broken_save(filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model_atomically(model, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]


@pytest.mark.parametrize(
    "name", ["ganomaly", "skip_ganomaly", "simultaneous_encoder_gan", "egbad", "anogan"]
)
def test_files_saved_before_the_package_moved_still_load_and_score_the_same(name):
    """tests/fixtures/saved_before_the_move holds a small calibrated model of each
    family member written by version 0.1.0 before its modules were regrouped (the
    GANomaly file with both optimizers' state). Classes are registered by name, so
    each still loads and gives the scores it gave then."""
    folder = os.path.join(TESTS, "fixtures", "saved_before_the_move")
    expected = np.load(os.path.join(folder, "scores.npz"))
    model = load_model(os.path.join(folder, f"{name}.keras"))
    assert model.calibration is not None
    # float32 scores through different kernels: a few hundred units of 2**-23
    np.testing.assert_allclose(
        model.predict(expected["images"], verbose=0), expected[name], rtol=1e-4, atol=1e-6
    )

