"""Saving and loading beyond the shared round trips of detector_test_case: training
goes on exactly after a reload, and saves are atomic."""

import os

import keras
import numpy as np
import pytest
from settings import TESTS

from ganomaly_keras import GANomaly
from ganomaly_keras.saving import load_model, save_model_atomically


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
