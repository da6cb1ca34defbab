"""Saving and loading: config, compile config, weights and optimizer state."""

import os

import keras
import numpy as np
import pytest

from ganomaly_keras import GANomaly
from ganomaly_keras.saving import save_model_atomically


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


def test_config_round_trip():
    model = GANomaly(image_size=32, channels=3, latent_size=20, width=16, extra_layers=1,
                     adversarial_weight=2.0, encoder_weight=0.5, score="latent_l1",
                     discriminator_reset_threshold=0.0, sync_batchnorm=True, seed=7)
    config = model.get_config()
    clone = GANomaly.from_config(config)
    assert clone.get_config() == config
    assert [v.shape for v in clone.weights] == [v.shape for v in model.weights]
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert isinstance(restored, GANomaly) and restored.get_config()["latent_size"] == 20


def test_keras_file_round_trip_gives_identical_scores_and_state(tmp_path, x):
    model = make_trained(x)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)

    assert isinstance(loaded, GANomaly)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
    # Compile state: both optimizers with their hyper-parameters and their state.
    assert float(loaded.optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(loaded.discriminator_optimizer.learning_rate) == pytest.approx(5e-4)
    assert loaded.discriminator_optimizer.beta_1 == pytest.approx(0.4)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 4
    assert int(loaded.discriminator_optimizer.iterations) == 4
    for a, b in zip(model.discriminator_optimizer.variables, loaded.discriminator_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


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
