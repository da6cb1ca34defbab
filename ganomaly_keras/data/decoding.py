"""Image files into the model's input, streamed or loaded, by the one image path.

Every file goes through `ganomaly_keras.data.images.read_pixels` (Pillow: decode,
channels, antialiased bilinear resize), the same function `predict` and the edge
runner use, then `to_model_input` (`x / 127.5 - 1`). Folders stream through
`image_dataset`: `tf.data` shuffles the paths and decodes files in parallel as
training consumes them, so memory holds only a few batches whatever the folder's
size. Splits that fit in memory load through `decode_files`. A file that cannot be
read raises an error naming it, or with `on_error="skip"` is left out with a warning
that names it.
"""

import concurrent.futures
import os
import warnings
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from ganomaly_keras.data.folders import FileSplit
from ganomaly_keras.data.images import (
    ImageReadError,
    image_shape,
    read_pixels,
    to_model_input,
)

# Threads decoding a streamed folder: 1 keeps up with training by far on small
# images (thousands of decodes/s against a few hundred trained images/s on 2 cores).
DECODE_THREADS = int(os.environ.get("GANOMALY_KERAS_DECODE_THREADS", "1"))
# Threads decoding a split into memory (Pillow releases the GIL while it decodes).
LOAD_THREADS = max(1, min(4, os.cpu_count() or 1))
SKIP_HINT = 'pass --skip-unreadable (on_error="skip") to leave unreadable files out'


def decode_image_file(path, image_size, channels):
    """One image file as float32 `(height, width, channels)` in [-1, 1].

    Args:
        path: the image file.
        image_size: an int (square) or `(height, width)`.
        channels: 1 or 3.

    Raises:
        ValueError: naming the file, when it is missing, empty or not a decodable
            image.
    """
    try:
        pixels, _ = read_pixels(path, image_size, channels)
    except ImageReadError as error:
        raise ValueError(f"cannot decode image file {os.fspath(path)!r}: "
                         f"{_reason(error)}") from None
    return to_model_input(pixels)


def _reason(error):
    """The reason part of an `ImageReadError`'s message."""
    return str(error).split(": ", 1)[-1]


def check_on_error(on_error):
    """Raise ValueError unless `on_error` is "raise" or "skip"."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f'on_error must be "raise" or "skip"; got {on_error!r}.')


class Unreadable(NamedTuple):
    """A file left out of a split, and why."""

    path: str
    reason: str


def _read_all(paths, image_size, channels):
    """`[(pixels or None, Unreadable or None)]` of every path, read in threads."""
    def read(path):
        try:
            return read_pixels(path, image_size, channels)[0], None
        except ImageReadError as error:
            return None, Unreadable(os.fspath(path), _reason(error))

    with concurrent.futures.ThreadPoolExecutor(LOAD_THREADS) as pool:
        return list(pool.map(read, paths))


def find_unreadable(paths, image_size=16, channels=1):
    """The files of `paths` that do not decode, with the reason for each.

    Returns:
        list of `Unreadable(path, reason)`, in the order of `paths`.
    """
    return [bad for _, bad in _read_all(paths, image_size, channels) if bad is not None]


def unreadable_error(skipped):
    """The ValueError for unreadable files when they were not to be skipped."""
    first = skipped[0]
    more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
    return ValueError(
        f"cannot decode image file {first.path!r}: {first.reason}{more}; {SKIP_HINT}."
    )


def _report_skipped(skipped):
    for item in skipped:
        warnings.warn(f"skipping {item.path!r}: {item.reason}", stacklevel=3)


class DecodedFiles(NamedTuple):
    """Images decoded into memory, the indices of their files, and what was skipped."""

    images: np.ndarray
    kept: np.ndarray
    skipped: tuple


def decode_files(paths, image_size, channels, on_error="raise"):
    """Decode image files into memory, in threads.

    Args:
        paths: image file paths.
        image_size: an int (square) or `(height, width)`.
        channels: 1 or 3.
        on_error: "raise" (the default: the first unreadable file raises a
            `ValueError` naming it and the way to skip it) or "skip" (unreadable
            files are left out, each with a warning naming it and why).

    Returns:
        `DecodedFiles(images, kept, skipped)`: float32 `(n, height, width,
        channels)` in [-1, 1], the indices into `paths` of the images kept, and
        `Unreadable(path, reason)` for each file left out.
    """
    check_on_error(on_error)
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("no image files were given.")
    results = _read_all(paths, image_size, channels)
    skipped = tuple(bad for _, bad in results if bad is not None)
    if skipped and on_error == "raise":
        raise unreadable_error(skipped)
    _report_skipped(skipped)
    kept = np.array([i for i, (pixels, _) in enumerate(results) if pixels is not None], np.int64)
    if not len(kept):
        raise ValueError("none of the image files could be decoded.")
    return DecodedFiles(
        to_model_input(np.stack([results[i][0] for i in kept])), kept, skipped
    )


def load_images(paths, image_size, channels, on_error="raise"):
    """Decode image files into memory (for small splits: validation, test).

    Returns:
        `(images, kept)`: float32 `(n, height, width, channels)` in [-1, 1] and the
        indices into `paths` of the images kept (all unless skipped).
        `decode_files` also returns the skipped files and their reasons.
    """
    decoded = decode_files(paths, image_size, channels, on_error)
    return decoded.images, decoded.kept


def load_split(split, image_size, channels, on_error="raise"):
    """A `FileSplit` decoded into memory: `(images, labels)`; skipped files dropped."""
    images, kept = load_images(split.paths, image_size, channels, on_error)
    return images, split.labels[kept]


def pixels_op(path, image_size, channels):
    """The graph op of `read_pixels` (a `tf.numpy_function`): uint8 `(height, width,
    channels)` of one file path tensor. A file that cannot be read fails with an
    `InvalidArgumentError` that names it."""
    height, width = image_shape(image_size)

    def read(name):
        return read_pixels(name.decode(), (height, width), channels)[0]

    pixels = tf.numpy_function(read, [path], tf.uint8, stateful=False)
    pixels.set_shape((height, width, channels))
    return pixels


def image_dataset(
    split,
    image_size,
    channels,
    batch_size=64,
    shuffle=False,
    seed=None,
    with_labels=False,
    on_error="raise",
):
    """A streaming, batched `tf.data.Dataset` of a `FileSplit` (or a list of paths).

    Paths are shuffled (each epoch in a seeded new order, with `shuffle`), then
    decoded in parallel (`num_parallel_calls=AUTOTUNE`) as the dataset is
    iterated: memory holds the paths and a few batches, whatever the folder's
    size. Yields float32 images in [-1, 1], or `(images, labels)` with
    `with_labels`. Use it directly in `model.fit`.

    With `on_error="skip"`, one pass over the files first finds the unreadable ones
    (`find_unreadable`), warns about each by name and leaves them out, so every
    epoch has the same known length. With "raise", an unreadable file stops
    iteration with an error naming it.
    """
    check_on_error(on_error)
    if not isinstance(split, FileSplit):
        paths = tuple(os.fspath(p) for p in split)
        none = (None,) * len(paths)
        split = FileSplit(paths, np.zeros(len(paths), np.int64), none, none)
    if len(split) == 0:
        raise ValueError("the split holds no image files.")
    if on_error == "skip":
        skipped = find_unreadable(split.paths, image_size, channels)
        _report_skipped(skipped)
        bad = {item.path for item in skipped}
        split = split.subset([i for i, p in enumerate(split.paths) if p not in bad])
        if len(split) == 0:
            raise ValueError("none of the image files could be decoded.")
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(split.paths, tf.string), tf.constant(split.labels, tf.int64))
    )
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)

    def decode(path, label):
        image = tf.cast(pixels_op(path, image_size, channels), tf.float32) / 127.5 - 1.0
        return (image, label) if with_labels else image

    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    # Decoding threads of their own, one op thread each: they then share the CPU
    # with training instead of preempting its intra-op pool.
    options = tf.data.Options()
    options.threading.private_threadpool_size = DECODE_THREADS
    options.threading.max_intra_op_parallelism = 1
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)
