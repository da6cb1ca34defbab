"""models/inputs.py: bad images get errors that name the fix, in scoring and training."""


import numpy as np
import pytest
import tensorflow as tf

from ganomaly_keras import GANomaly
from tests import settings


def tiny(**kwargs):
    """A small GANomaly for fast tests (16x16, width 8, latent size 16)."""
    return settings.tiny(GANomaly, **{"latent_size": 16, **kwargs})


@pytest.mark.parametrize(
    "bad,message",
    [
        (np.zeros((4, 16, 16), "float32"), r"channel axis: x\[\.\.\., None\]"),
        (np.zeros((16, 16, 1), "float32"), r"batch axis: x\[None\]"),
        (np.zeros((2, 32, 32, 1), "float32"), "must be 16 high and 16 wide"),
        (np.zeros((2, 16, 16, 3), "float32"), r"1 channel\(s\).*rgb_to_grayscale"),
        (np.zeros((2, 16, 16, 1), "uint8"), "x.astype\\('float32'\\) / 127.5 - 1"),
    ],
)
def test_bad_input_shapes_and_dtypes_get_clear_errors(bad, message):
    model = tiny()
    with pytest.raises(ValueError, match=message):
        model.predict(bad, verbose=0)
    with pytest.raises(ValueError, match=message):
        model(bad)


@pytest.mark.parametrize(
    "value,message", [(255.0, r"scaled to \[-1, 1\]"), (np.nan, "NaN"), (np.inf, "NaN or infinite")]
)
def test_bad_values_get_clear_errors_in_scoring_and_training(value, message):
    model = tiny()
    model.compile(jit_compile=False)
    x = np.zeros((4, 16, 16, 1), "float32")
    x[1, 3, 3, 0] = value
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        model.predict(x, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        model.fit(x, epochs=1, batch_size=4, verbose=0)

