"""`.npz` files in Keras' dataset layout (`x_train`, `y_train`, `x_test`, `y_test`)."""

import os
import zipfile

import numpy as np

from ganomaly_keras.data.preprocessing import preprocess_images

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_npz(path, image_size=32, channels=1, max_value=255.0):
    """Load and preprocess an `.npz` in Keras' layout, e.g. `mnist.npz`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: images float32 in [-1, 1] of shape
        `(n, image_size, image_size, channels)`, class labels int64.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no .npz file at {path!r}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in NPZ_KEYS if key in data.files}
            found = list(data.files)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, AttributeError) as error:
        # A non-zip file makes np.load try pickle (ValueError) or fail to parse.
        raise ValueError(f"{path} is not a readable .npz file: {error}") from error
    missing = [key for key in NPZ_KEYS if key not in arrays]
    if missing:
        raise ValueError(
            f"{path} lacks {missing}; expected Keras' layout with arrays "
            f"{list(NPZ_KEYS)} (found {found})."
        )
    return (
        (
            preprocess_images(arrays["x_train"], image_size, channels, max_value),
            arrays["y_train"].astype(np.int64).ravel(),
        ),
        (
            preprocess_images(arrays["x_test"], image_size, channels, max_value),
            arrays["y_test"].astype(np.int64).ravel(),
        ),
    )
