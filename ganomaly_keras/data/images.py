"""The one image path: an image file, or raw pixels, to the pixels a model takes.

Every image the package scores or trains on goes through `read_pixels` (files) or
`resize_pixels` (arrays): training, validation and calibration, `evaluate`,
`predict`, the Python API's file helpers and the TensorFlow-free edge runner. The
model then scales the uint8 pixels to [-1, 1] itself (`to_model_input`, and the
same arithmetic inside every export). One path means one score per image, wherever
it is computed.

The rules, in order:

1. **Decode** with Pillow: PNG, JPEG, BMP, GIF (first frame), TIFF. 16-bit images
   are scaled to 8 bits (`value * 255 / 65535`, rounded). EXIF orientation is not
   applied: masks are drawn on the stored pixel grid.
2. **Channels**, one rule everywhere: an image is converted to the model's
   channels. Colour to grayscale by ITU-R 601-2 luma (Pillow's "L":
   `0.299 R + 0.587 G + 0.114 B`), grayscale to colour by copying, alpha dropped,
   palettes expanded.
3. **Resize** to `(height, width)` with Pillow's bilinear filter, which widens its
   support when it shrinks: an antialiased reduction, as a camera pipeline's
   scaler does, so a thin bright defect is averaged into fewer pixels rather than
   skipped between samples. Images are never cropped or padded; a change of aspect
   ratio stretches them.
4. **Scale** (`to_model_input`): `pixels / 127.5 - 1`, float32 in [-1, 1].

This module needs only NumPy and Pillow.
"""

import os

import numpy as np
from PIL import Image, UnidentifiedImageError

# Image files the package lists in folders.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
# The Pillow mode of each channel count.
MODES = {1: "L", 3: "RGB"}
NOT_AN_IMAGE = "not a PNG, JPEG, BMP, GIF or TIFF image (empty, truncated or another format)"
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class ImageReadError(ValueError):
    """An image file that cannot be read, named with the reason."""


def image_shape(size):
    """`(height, width)` of a size given as an int (a square) or a pair.

    Raises:
        ValueError: for anything but one or two positive integers.
    """
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(pair) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in pair
    ):
        raise ValueError(
            f"an image size is a positive integer or (height, width); got {size!r}."
        )
    return int(pair[0]), int(pair[1])


def _eight_bit(image):
    """A 16-bit (or 32-bit integer) grayscale image as 8-bit mode "L"."""
    values = np.asarray(image, np.float64)
    return Image.fromarray(np.clip(np.round(values * 255.0 / 65535.0), 0, 255).astype(np.uint8))


def convert_channels(image, channels):
    """A Pillow image in the mode of `channels` (1: "L", 3: "RGB"), by the module's
    one rule for channels."""
    if channels not in MODES:
        raise ValueError(f"channels must be 1 or 3; got {channels!r}.")
    if image.mode in _SIXTEEN_BIT:
        image = _eight_bit(image)
    elif image.mode == "F":
        raise ImageReadError("32-bit float images are not supported; save it with 8 or 16 bits")
    if image.mode == MODES[channels]:
        return image
    if image.mode in ("P", "PA", "LA", "La", "RGBA", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "1"):
        image = image.convert("RGB" if image.mode not in ("LA", "La", "1") else "L")
    return image.convert(MODES[channels])


def resize_image(image, size):
    """A Pillow image resized to `size` (an int, or `(height, width)`), bilinear and
    antialiased when it shrinks; returned as is when it has that size."""
    height, width = image_shape(size)
    if image.size == (width, height):
        return image
    return image.resize((width, height), Image.BILINEAR)


def read_pixels(path, size, channels):
    """An image file as the model's uint8 pixels, by the module's rules.

    Args:
        path: the image file.
        size: the model's input size, an int (square) or `(height, width)`.
        channels: 1 (grayscale) or 3 (RGB).

    Returns:
        `(pixels, (width, height))`: uint8 `(height, width, channels)` and the
        file's own size.

    Raises:
        ImageReadError: naming the file, when it is missing, empty, damaged or not
            an image.
    """
    path = os.fspath(path)
    height, width = image_shape(size)
    try:
        with Image.open(path) as image:
            image.load()
            original_size = image.size
            image = convert_channels(image, channels)
    except ImageReadError as error:
        raise ImageReadError(f"cannot read image {path}: {error}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        reason = NOT_AN_IMAGE if isinstance(error, UnidentifiedImageError) else (
            str(error) or type(error).__name__
        )
        raise ImageReadError(f"cannot read image {path}: {reason}") from None
    pixels = np.asarray(resize_image(image, size), np.uint8)
    return pixels.reshape(height, width, channels), original_size


def to_uint8(images, max_value=255.0):
    """Raw pixel values in [0, max_value] as rounded uint8 in [0, 255].

    Raises:
        ValueError: for non-numeric data, NaN or infinite values.
    """
    x = np.asarray(images)
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"images must be numeric pixel values; got dtype {x.dtype}.")
    if x.dtype == np.uint8 and float(max_value) == 255.0:
        return x
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("images contain NaN or infinite values; clean the data first.")
    return np.clip(np.round(x * (255.0 / float(max_value))), 0, 255).astype(np.uint8)


def resize_pixels(images, size, channels, max_value=255.0):
    """Raw image arrays as the model's uint8 pixels: the file path's channel rule and
    resize, applied to arrays.

    Args:
        images: `(n, h, w)` or `(n, h, w, c)` with c in {1, 3}, pixel values in
            [0, max_value].
        size: the output size, an int or `(height, width)`.
        channels: 1 or 3.
        max_value: the value of a white pixel (255 for uint8, 16 for scikit-learn's
            digits).

    Returns:
        uint8 `(n, height, width, channels)`.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(
            "images must have shape (n, h, w) or (n, h, w, c) with 1 or 3 channels; "
            f"got shape {x.shape}."
        )
    if channels not in MODES:
        raise ValueError(f"channels must be 1 or 3; got {channels!r}.")
    x = to_uint8(x, max_value)
    height, width = image_shape(size)
    if x.shape[1:] == (height, width, channels):
        return x
    out = np.empty((len(x), height, width, channels), np.uint8)
    mode = MODES[x.shape[-1]]
    for i, image in enumerate(x):
        converted = convert_channels(Image.fromarray(image[..., 0] if mode == "L" else image, mode), channels)
        out[i] = np.asarray(resize_image(converted, (height, width))).reshape(height, width, channels)
    return out


def to_model_input(pixels):
    """uint8 pixels to the model's float32 input in [-1, 1]: `pixels / 127.5 - 1`."""
    return np.asarray(pixels, np.float32) / np.float32(127.5) - np.float32(1.0)


def image_files(target):
    """The image files to score under `target`: the file itself, or every image file
    in a folder and its subfolders (an MVTec-layout `test/` with `good/` and defect
    folders, say), sorted by path.

    Raises:
        ImageReadError: when `target` does not exist or a folder holds no image.
    """
    target = os.fspath(target)
    if os.path.isfile(target):
        return [target]
    if not os.path.isdir(target):
        raise ImageReadError(f"{target} does not exist.")
    found = sorted(
        os.path.join(folder, name)
        for folder, _, names in os.walk(target)
        for name in names
        if name.lower().endswith(IMAGE_EXTENSIONS)
    )
    if not found:
        raise ImageReadError(
            f"folder {target} holds no image files ({', '.join(IMAGE_EXTENSIONS)}), "
            "in it or in its subfolders."
        )
    return found


def image_channels(path):
    """1 for a grayscale image file, 3 for a colour one (alpha ignored)."""
    try:
        with Image.open(path) as image:
            return 1 if image.mode in ("1", "L", "LA", "I", "I;16", "F") else 3
    except OSError as error:
        raise ValueError(f"cannot read image file {path!r}: {error}") from None
