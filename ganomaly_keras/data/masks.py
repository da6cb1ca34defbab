"""Ground-truth defect masks of a folder dataset, for pixel-level evaluation.

In the MVTec AD layout, the mask of `test/<defect>/<name>.png` is
`ground_truth/<defect>/<name>_mask.png`: same width and height as its image, non-zero
where the defect is. Normal images have no mask file and count as all-zero masks.

Masks are compared with anomaly maps at one evaluation resolution for the whole
split, `evaluation_size`: the images' native shape, scaled down so that its long side
is at most `MAX_EVALUATION_SIZE` or the model input's long side, whichever is larger. Maps (at the model's resolution) are upsampled
bilinearly to it, so that a defect a few pixels wide is judged where it was annotated
instead of being lost by downsampling its mask. Masks are resized to it with
nearest-neighbour sampling, as images are resized to the model's input, so an image's
mask is stretched exactly as the image is.
"""

import os
import warnings

import numpy as np
from PIL import Image

MAX_EVALUATION_SIZE = 256


def orphan_masks(root):
    """Mask files under `root/ground_truth` that belong to no test image."""
    truth = os.path.join(os.fspath(root), "ground_truth")
    if not os.path.isdir(truth):
        return []
    orphans = []
    for defect in sorted(os.listdir(truth)):
        folder = os.path.join(truth, defect)
        if not os.path.isdir(folder):
            continue
        images = os.path.join(os.fspath(root), "test", defect)
        stems = (
            {os.path.splitext(n)[0] for n in os.listdir(images)} if os.path.isdir(images) else set()
        )
        for name in sorted(os.listdir(folder)):
            stem = os.path.splitext(name)[0]
            if not stem.endswith("_mask") or stem[: -len("_mask")] not in stems:
                orphans.append(os.path.join(folder, name))
    return orphans


def check_ground_truth(root):
    """Raise a ValueError naming the fix when a mask matches no test image."""
    orphans = orphan_masks(root)
    if orphans:
        raise ValueError(
            f"mask {orphans[0]!r} matches no test image ({len(orphans)} such files): a "
            "mask of test/<defect>/<name>.<ext> must be ground_truth/<defect>/"
            "<name>_mask.png. Rename or remove it."
        )


def evaluation_size(image_paths, input_shape):
    """`(height, width)` at which masks and maps of `image_paths` are compared.

    Args:
        image_paths: the split's images (the first one's size is the native one).
        input_shape: the model input's `(height, width)` (or an int side).
    """
    height, width = (input_shape, input_shape) if np.ndim(input_shape) == 0 else input_shape
    with Image.open(image_paths[0]) as first:
        native_width, native_height = first.size
    long_side = max(MAX_EVALUATION_SIZE, height, width)
    scale = min(1.0, long_side / max(native_height, native_width))
    return int(round(native_height * scale)), int(round(native_width * scale))


def load_masks(image_paths, mask_paths, labels, size):
    """Binary masks `(n, size, size)` uint8 for images with their mask paths.

    Args:
        image_paths: the images' files.
        mask_paths: each image's mask file, or None.
        labels: 1 = anomaly; a normal image (0) gets an all-zero mask.
        size: the evaluation `(height, width)` (`evaluation_size`), or a side.

    Returns:
        `(n, height, width)` masks, or None when no anomalous image has a mask (nothing to evaluate).
        Anomalous images without a mask are evaluated as all-zero with a warning.

    Raises:
        ValueError: naming the file, when a mask cannot be read or its size differs
            from its image's.
    """
    if not any(m is not None for m, y in zip(mask_paths, labels) if y):
        return None
    height, width = (size, size) if np.ndim(size) == 0 else size
    masks = np.zeros((len(image_paths), height, width), np.uint8)
    missing = 0
    for i, (image_path, mask_path, label) in enumerate(zip(image_paths, mask_paths, labels)):
        if mask_path is None:
            missing += int(label == 1)
            continue
        try:
            with Image.open(mask_path) as mask, Image.open(image_path) as image:
                mask.load()
                if mask.size != image.size:
                    raise ValueError(
                        f"mask {mask_path!r} is {mask.size[0]}x{mask.size[1]} but its "
                        f"image {image_path!r} is {image.size[0]}x{image.size[1]}: a "
                        "mask must have its image's width and height. Re-export the "
                        "mask at the image's size."
                    )
                binary = np.asarray(mask.convert("L")) > 0
        except OSError as error:
            raise ValueError(f"cannot read mask file {mask_path!r}: {error}") from None
        resized = Image.fromarray(binary.astype(np.uint8) * 255).resize(
            (width, height), Image.NEAREST
        )
        masks[i] = np.asarray(resized) > 127
    if missing:
        warnings.warn(
            f"{missing} anomalous images have no mask; their pixels count as normal in "
            "pixel-level metrics.",
            stacklevel=2,
        )
    return masks
