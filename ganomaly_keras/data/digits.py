"""scikit-learn's handwritten digits: real images that need no download."""

import numpy as np

from ganomaly_keras.data.preprocessing import preprocess_images

# Pixels of scikit-learn's digits run from 0 to 16.
DIGITS_MAX_VALUE = 16.0


def load_digits(image_size=32, channels=1):
    """The 1,797 8x8 digits of scikit-learn, upscaled bilinearly and scaled to [-1, 1].

    Returns:
        `(images, labels)`: float32 `(1797, image_size, image_size, channels)` and
        int64 `(1797,)` digit labels.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits

    digits = sklearn_load_digits()
    images = preprocess_images(
        digits.images, image_size, channels, max_value=DIGITS_MAX_VALUE
    )
    return images, np.asarray(digits.target, dtype=np.int64)
