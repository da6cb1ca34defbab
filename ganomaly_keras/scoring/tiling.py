"""Inspecting images larger than the network's input with overlapping tiles.

A detector built for `image_size` x `image_size` inputs can score images of a larger
`working_size`, square or rectangular: it is trained on random `image_size` patches
of working-size images, and scores an image by cutting it into tiles of `image_size`
with a stride of half a tile. It scores every tile, averages the tiles' anomaly maps
where they overlap into one working-size map, and reduces that map to one image
score. Small defects keep their pixels this way, while squashing the whole image into
the network's input would blur them away, and a long part keeps its aspect ratio.

The tile grid is fixed by the sizes, so tiling runs inside the exported graph with
plain slicing, padding and addition, all of them builtin LiteRT operators. The sizes'
checks need no TensorFlow (the command line runs them before it loads it).

A working size is an int (a square) or `(height, width)`; on the command line
`WIDTHxHEIGHT`, as image sizes are written (`256x640`: 256 wide, 640 tall). Each side
must be at least `image_size`, and exceed it by a multiple of the stride
`image_size / 2`: a 64-pixel network accepts sides of 64, 96, 128, 160, ...
"""

import numpy as np

# The longest side a working size derived from a folder's images gets (`derived_shape`).
DERIVED_LONG_SIDE = 640


def _side(value, image_size, name):
    stride = image_size // 2
    if value < image_size:
        raise ValueError(
            f"the patch (image_size {image_size}) is larger than the working size "
            f"{name}: use a working size of at least {image_size}, or a smaller "
            "image_size."
        )
    if (value - image_size) % stride:
        below = value - (value - image_size) % stride
        raise ValueError(
            f"working_size {name} does not fit whole tiles of {image_size} at a "
            f"stride of {stride}: use {below} or {below + stride}."
        )
    return value


def working_shape(working_size, image_size):
    """`(height, width)` of a working size the tile grid accepts, or None.

    Args:
        working_size: None, an int (a square), `(height, width)`, or the command
            line's "WIDTHxHEIGHT".
        image_size: the networks' input side.

    Raises:
        ValueError: naming the nearest sizes that work.
    """
    if working_size is None:
        return None
    if isinstance(working_size, str):
        parts = working_size.lower().split("x")
        if not all(p.strip().isdigit() for p in parts) or len(parts) not in (1, 2):
            raise ValueError(
                f"working_size must be a side or WIDTHxHEIGHT (e.g. 256x640); got "
                f"{working_size!r}."
            )
        numbers = [int(p) for p in parts]
        working_size = numbers[0] if len(numbers) == 1 else (numbers[1], numbers[0])
    pair = (working_size, working_size) if np.ndim(working_size) == 0 else tuple(working_size)
    if len(pair) != 2 or any(isinstance(v, bool) or int(v) != v for v in pair):
        raise ValueError(
            f"working_size must be an integer or (height, width); got {working_size!r}."
        )
    height, width = (int(v) for v in pair)
    name = str(height) if height == width else f"{width}x{height}"
    return _side(height, image_size, name), _side(width, image_size, name)


def validate_working_size(working_size, image_size):
    """The working size in its stored form: None, an int for a square, or
    `[height, width]` (JSON-able) for a rectangle; see `working_shape`."""
    shape = working_shape(working_size, image_size)
    if shape is None:
        return None
    return shape[0] if shape[0] == shape[1] else [shape[0], shape[1]]


def on_grid(side, image_size):
    """The side of the tile grid nearest to `side` (at least `image_size`)."""
    stride = image_size // 2
    return image_size + stride * max(0, int(round((side - image_size) / stride)))


def derived_shape(image_shapes, image_size, long_side=DERIVED_LONG_SIDE):
    """A working shape for images of `image_shapes` (`(height, width)` each): their
    median shape, scaled down (never up) so its long side is at most `long_side`, each
    side on the tile grid."""
    height, width = (float(np.median([s[i] for s in image_shapes])) for i in (0, 1))
    scale = min(1.0, long_side / max(height, width))
    return on_grid(height * scale, image_size), on_grid(width * scale, image_size)


def tile_offsets(shape, image_size):
    """Top-left corners `(y, x)` of the tiles of a `(height, width)` image, row by row."""
    height, width = shape
    stride = image_size // 2
    return [
        (y, x)
        for y in range(0, height - image_size + 1, stride)
        for x in range(0, width - image_size + 1, stride)
    ]


def extract_tiles(images, shape, image_size):
    """Images `(batch, H, W, c)` to tiles `(tiles * batch, s, s, c)`, tile-major."""
    import tensorflow as tf

    tiles = [
        images[:, y : y + image_size, x : x + image_size, :]
        for y, x in tile_offsets(shape, image_size)
    ]
    return tf.concat(tiles, axis=0)


def tile_maximum(values, shape, image_size):
    """Per-tile values `(tiles * batch,)` to the per-image maximum `(batch,)`."""
    import tensorflow as tf

    count = len(tile_offsets(shape, image_size))
    return tf.reduce_max(tf.reshape(values, (count, -1)), axis=0)


def _coverage(shape, image_size):
    counts = np.zeros(shape, np.float32)
    for y, x in tile_offsets(shape, image_size):
        counts[y : y + image_size, x : x + image_size] += 1
    return counts


def assemble(tile_maps, shape, image_size):
    """Tile maps `(tiles * batch, s, s[, c])` to working-size maps `(batch, H, W[, c])`,
    averaged where tiles overlap.

    With a stride of half a tile, every half-tile cell of the image is covered by the
    quadrants of at most four tiles: each quadrant is added into its cell once, so the
    work is that of the image, whatever the number of tiles. Every tensor stays within
    five dimensions, as LiteRT's slicing and transposing kernels ask.
    """
    import tensorflow as tf

    if len(tile_maps.shape) == 4:  # channels, one at a time
        return tf.stack(
            [assemble(m, shape, image_size) for m in tf.unstack(tile_maps, axis=-1)], axis=-1
        )
    height, width = shape
    half = image_size // 2
    rows, cols = (height - image_size) // half + 1, (width - image_size) // half + 1
    # (rows * cols * batch, quadrant row, y, quadrant column, x)
    tiles = tf.reshape(tile_maps, [-1, 2, half, 2, half])
    total = None
    for qy in (0, 1):
        for qx in (0, 1):
            quadrant = tf.reshape(tiles[:, qy, :, qx, :], [rows, cols, -1, half, half])
            placed = tf.pad(quadrant, [[qy, 1 - qy], [qx, 1 - qx], [0, 0], [0, 0], [0, 0]])
            total = placed if total is None else total + placed
    # (rows + 1, cols + 1, batch, y, x) -> (batch, H, W)
    image = tf.reshape(tf.transpose(total, [2, 0, 3, 1, 4]), [-1, height, width])
    return image / _coverage(shape, image_size)


def random_patches(images, image_size, seed=None):
    """One random `image_size` patch of each image of a batch `(batch, H, W, c)`."""
    import tensorflow as tf

    channels = images.shape[-1]

    def crop(image):
        return tf.image.random_crop(image, (image_size, image_size, channels), seed=seed)

    return tf.map_fn(crop, images, fn_output_signature=tf.float32)
