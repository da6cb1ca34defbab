"""data/preprocessing.py and data/digits.py: raw arrays to the model's input."""


import numpy as np
import pytest

from ganomaly_keras.data import preprocess_images


def test_digits_are_scaled_and_resized(digits16):
    images, classes = digits16
    assert images.shape == (1797, 16, 16, 1) and images.dtype == np.float32
    assert images.min() == pytest.approx(-1.0) and images.max() <= 1.0
    assert sorted(set(classes.tolist())) == list(range(10))


def test_preprocess_uint8_rgb_to_grayscale():
    rgb = np.zeros((2, 20, 20, 3), np.uint8)
    rgb[0] = 255
    out = preprocess_images(rgb, image_size=16, channels=1)
    assert out.shape == (2, 16, 16, 1)
    np.testing.assert_allclose(out[0], 1.0, atol=1e-3)  # luma weights sum to 0.9999
    np.testing.assert_allclose(out[1], -1.0, atol=1e-6)
    assert preprocess_images(rgb[..., 0], 32, 3).shape == (2, 32, 32, 3)


@pytest.mark.parametrize(
    "bad,message",
    [
        (np.zeros((2, 8, 8, 2)), "1 or 3 channels"),
        (np.zeros((8, 8)), "shape"),
        (np.array([[["a"]]]), "numeric"),
        (np.full((1, 8, 8), np.nan), "NaN"),
    ],
)
def test_preprocess_rejects_bad_images(bad, message):
    with pytest.raises(ValueError, match=message):
        preprocess_images(bad, 16, 1)

