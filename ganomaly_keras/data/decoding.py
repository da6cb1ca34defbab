"""Decoding image files into the model's contract, streamed or loaded.

Every file goes through `decode_image_tensor`, the package's one decoding graph for
training and validation files (the arithmetic of `preprocess_images`): decoded,
converted to the asked channels, resized bilinearly, scaled to [-1, 1]. Folders
stream through `image_dataset`: `tf.data` shuffles the paths and decodes files in
parallel as training consumes them, so memory holds only a few batches whatever the
folder's size. A file that cannot be decoded raises an error naming it, or with
`on_error="skip"` is left out with a warning that names it.
"""

import os
import re
import warnings
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from ganomaly_keras.data.folders import FileSplit


# The first bytes of each image format tf.io.decode_image reads.
_SIGNATURES = {
    "PNG": b"\x89PNG\r\n\x1a\n",
    "JPEG": b"\xff\xd8\xff",
    "BMP": b"BM",
    "GIF87a": b"GIF87a",
    "GIF89a": b"GIF89a",
}
_NOT_AN_IMAGE = "not a PNG, JPEG, BMP or GIF image (empty, truncated or another format)"
# Threads decoding a streamed folder: 1 keeps up with training by far on small
# images (about 5,000 decodes/s against a few hundred trained images/s on 2 cores).
DECODE_THREADS = int(os.environ.get("GANOMALY_KERAS_DECODE_THREADS", "1"))
SKIP_HINT = 'pass --skip-unreadable (on_error="skip") to leave unreadable files out'


def _header_is_image(contents):
    """Graph-mode check of a file's first bytes: a known signature, and for PNG the
    IHDR chunk right after it (garbage after a PNG signature fails here, named)."""
    head = tf.strings.substr(
        tf.strings.join([tf.strings.substr(contents, 0, 16), b"\0" * 16]), 0, 16
    )
    checks = [
        tf.equal(tf.strings.substr(head, 0, len(sig)), sig)
        for name, sig in _SIGNATURES.items() if name != "PNG"
    ]
    png = tf.logical_and(
        tf.equal(tf.strings.substr(head, 0, 8), _SIGNATURES["PNG"]),
        tf.equal(tf.strings.substr(head, 12, 4), b"IHDR"),
    )
    return tf.reduce_any(tf.stack(checks + [png]))


def _to_channels(image, channels):
    """Decoded pixels with 1 to 4 channels as `channels` (1 or 3): alpha dropped,
    grayscale and RGB converted as `preprocess_images` converts them."""
    found = tf.shape(image)[-1]
    image = image[..., : found - (1 - found % 2)]  # 2 -> 1, 4 -> 3 (drop alpha)
    if channels == 1:
        image = tf.cond(
            tf.shape(image)[-1] == 3,
            lambda: tf.image.rgb_to_grayscale(image[..., :3]),
            lambda: image[..., :1],
        )
    else:
        image = tf.cond(
            tf.shape(image)[-1] == 1,
            lambda: tf.image.grayscale_to_rgb(image[..., :1]),
            lambda: image[..., :3],
        )
    image.set_shape((None, None, channels))
    return image


def decode_image_tensor(path, image_size, channels):
    """The graph of one file's decoding: float32 `(image_size, image_size,
    channels)` in [-1, 1], by the package's one preprocessing contract (bilinear
    resize of pixels in [0, 1], grayscale/RGB conversion, `2 * x - 1`).

    Runs eagerly or inside `tf.data`; a file that is not an image fails with an
    error naming it, and a file whose data is damaged past its header fails in
    TensorFlow's decoder (`find_unreadable` then names it).
    """
    contents = tf.io.read_file(path)
    tf.debugging.Assert(
        _header_is_image(contents), ["cannot decode image file", path, _NOT_AN_IMAGE]
    )
    # float32 in [0, 1] whatever the bit depth; GIFs give their first frame.
    image = tf.io.decode_image(contents, channels=0, dtype=tf.float32, expand_animations=False)
    image = _to_channels(image, channels)
    image = tf.image.resize(image[None], (image_size, image_size), method="bilinear")[0]
    return tf.clip_by_value(image, 0.0, 1.0) * 2.0 - 1.0


def _reason(error):
    message = getattr(error, "message", str(error)).strip().splitlines()[0]
    message = re.sub(r"\{\{.*?\}\}|\[Op:\w+\].*", "", message).strip()
    if "cannot decode image file" in message:
        return _NOT_AN_IMAGE
    return message


def decode_image_file(path, image_size, channels):
    """One image file as float32 `(image_size, image_size, channels)` in [-1, 1].

    Raises:
        ValueError: naming the file, when it is missing, empty or not a decodable
            PNG/JPEG/BMP/GIF image.
    """
    path = os.fspath(path)
    try:
        return decode_image_tensor(path, image_size, channels).numpy()
    except (tf.errors.OpError, ValueError) as error:
        raise ValueError(f"cannot decode image file {path!r}: {_reason(error)}") from None


def check_on_error(on_error):
    """Raise ValueError unless `on_error` is "raise" or "skip"."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f'on_error must be "raise" or "skip"; got {on_error!r}.')


def _decoded_dataset(paths, image_size, channels):
    """`(index, image)` of every file of `paths` that decodes, in order, decoded in
    parallel; files that fail are left out."""
    paths = tf.constant([os.fspath(p) for p in paths], tf.string)
    return (
        tf.data.Dataset.from_tensor_slices((tf.range(tf.size(paths), dtype=tf.int64), paths))
        .map(
            lambda index, path: (index, decode_image_tensor(path, image_size, channels)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .ignore_errors()
    )


class Unreadable(NamedTuple):
    """A file left out of a split, and why."""

    path: str
    reason: str


def _unreadable(paths, decoded_indices, image_size, channels):
    """The files of `paths` whose index is not in `decoded_indices`, with reasons."""
    missing = sorted(set(range(len(paths))) - set(int(i) for i in decoded_indices))
    found = []
    for index in missing:
        try:
            decode_image_file(paths[index], image_size, channels)
            reason = "could not be decoded"  # a passing read error
        except ValueError as error:
            reason = str(error).split(": ", 1)[-1]
        found.append(Unreadable(os.fspath(paths[index]), reason))
    return found


def find_unreadable(paths, image_size=16, channels=1):
    """The files of `paths` that do not decode, with the reason for each.

    One parallel decoding pass over every file (`tf.data`); nothing is kept in
    memory but the indices.

    Returns:
        list of `Unreadable(path, reason)`, in the order of `paths`.
    """
    indices = [int(i) for i, _ in _decoded_dataset(paths, image_size, channels).as_numpy_iterator()]
    return _unreadable(paths, indices, image_size, channels)


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
    """Decode image files into memory, in parallel (`tf.data`).

    Args:
        paths: image file paths.
        image_size, channels: the model's input.
        on_error: "raise" (the default: the first unreadable file raises a
            `ValueError` naming it and the way to skip it) or "skip" (unreadable
            files are left out, each with a warning naming it and why).

    Returns:
        `DecodedFiles(images, kept, skipped)`: float32 `(n, image_size,
        image_size, channels)` in [-1, 1], the indices into `paths` of the images
        kept, and `Unreadable(path, reason)` for each file left out.
    """
    check_on_error(on_error)
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("no image files were given.")
    kept, images = [], []
    for index, batch in _decoded_dataset(paths, image_size, channels).batch(256).as_numpy_iterator():
        kept.append(index)
        images.append(batch)
    kept = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    skipped = tuple(_unreadable(paths, kept, image_size, channels))
    if skipped and on_error == "raise":
        raise unreadable_error(skipped)
    _report_skipped(skipped)
    if not len(kept):
        raise ValueError("none of the image files could be decoded.")
    return DecodedFiles(np.concatenate(images), kept.astype(np.int64), skipped)


def load_images(paths, image_size, channels, on_error="raise"):
    """Decode image files into memory (for small splits: validation, test).

    Returns:
        `(images, kept)`: float32 `(n, image_size, image_size, channels)` in [-1, 1]
        and the indices into `paths` of the images kept (all unless skipped).
        `decode_files` also returns the skipped files and their reasons.
    """
    decoded = decode_files(paths, image_size, channels, on_error)
    return decoded.images, decoded.kept


def load_split(split, image_size, channels, on_error="raise"):
    """A `FileSplit` decoded into memory: `(images, labels)`; skipped files dropped."""
    images, kept = load_images(split.paths, image_size, channels, on_error)
    return images, split.labels[kept]


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
    size. Yields images, or `(images, labels)` with `with_labels`. Use it directly
    in `model.fit`.

    With `on_error="skip"`, one parallel pass over the files first finds the
    unreadable ones (`find_unreadable`), warns about each by name and leaves them
    out, so every epoch has the same known length. With "raise", a file that is not
    an image stops iteration with an error naming it; a file damaged past its
    header stops it inside TensorFlow's decoder, and `find_unreadable` names it.
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
        image = decode_image_tensor(path, image_size, channels)
        return (image, label) if with_labels else image

    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    # Decoding threads of their own, one op thread each: they then share the CPU
    # with training instead of preempting its intra-op pool.
    options = tf.data.Options()
    options.threading.private_threadpool_size = DECODE_THREADS
    options.threading.max_intra_op_parallelism = 1
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)
