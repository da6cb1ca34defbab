"""Raw image arrays to model input, by the package's one image path.

Raw images (any size, 1 or 3 channels, integer pixels in [0, max_value] or floats in
[0, max_value]) become float32 `(n, size, size, channels)` in [-1, 1]: rounded to
uint8 pixels, converted to the asked channels and resized as image files are
(`ganomaly_keras.data.images`), then scaled as every export scales its input.
"""

from ganomaly_keras.data.images import resize_pixels, to_model_input


def preprocess_images(images, image_size, channels, max_value=255.0):
    """Scale raw pixels to [-1, 1], resize to `image_size`, match `channels`.

    Args:
        images: array-like `(n, h, w)` or `(n, h, w, c)` with c in {1, 3}.
        image_size: the output size: an int (square) or `(height, width)`.
        channels: int, 1 or 3; grayscale and RGB are converted into each other.
        max_value: float, the value of a white pixel in `images` (255 for uint8,
            16 for scikit-learn's digits).

    Returns:
        float32 NumPy array `(n, height, width, channels)` in [-1, 1].
    """
    return to_model_input(resize_pixels(images, image_size, channels, max_value))
