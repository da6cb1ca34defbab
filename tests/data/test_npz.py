"""data/npz.py: `.npz` files in Keras' layout."""


import numpy as np
import pytest


def _write_npz(path, rng):
    np.savez(
        path,
        x_train=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        y_train=np.repeat(np.arange(3), 20),
        x_test=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        y_test=np.repeat(np.arange(3), 10),
    )


def test_load_npz_in_keras_layout(tmp_path, rng):
    from ganomaly_keras.data import load_npz

    _write_npz(tmp_path / "d.npz", rng)
    (x_train, y_train), (x_test, y_test) = load_npz(tmp_path / "d.npz", image_size=16)
    assert x_train.shape == (60, 16, 16, 1) and x_test.shape == (30, 16, 16, 1)
    assert x_train.min() >= -1 and x_train.max() <= 1
    assert y_train.dtype == np.int64 and len(y_test) == 30


def test_load_npz_errors(tmp_path):
    from ganomaly_keras.data import load_npz

    with pytest.raises(FileNotFoundError, match="no .npz file"):
        load_npz(tmp_path / "missing.npz")
    np.savez(tmp_path / "wrong.npz", images=np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="x_train"):
        load_npz(tmp_path / "wrong.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_npz(tmp_path / "corrupt.npz")

