"""data/masks.py: ground-truth masks at the evaluation size, and masks that cannot be
right refused by name."""


import os

import numpy as np
import pytest
from PIL import Image

from ganomaly_keras.data.masks import load_masks
from ganomaly_keras.data.spec import DataSpec


def _write_array(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def make_inspection_folder(root, size=48, seed=0):
    """A tiny MVTec-layout folder: noisy grey texture, defects are bright squares."""
    rng = np.random.default_rng(seed)

    def texture():
        return (120 + 20 * rng.standard_normal((size, size, 3))).clip(0, 255).astype(np.uint8)

    for i in range(16):
        _write_array(f"{root}/train/good/{i:03d}.png", texture())
    for i in range(5):
        _write_array(f"{root}/test/good/{i:03d}.png", texture())
    for i in range(5):
        image, mask = texture(), np.zeros((size, size), np.uint8)
        y, x = rng.integers(4, size - 12, 2)
        image[y : y + 8, x : x + 8] = 250
        mask[y : y + 8, x : x + 8] = 255
        _write_array(f"{root}/test/bright/{i:03d}.png", image)
        _write_array(f"{root}/ground_truth/bright/{i:03d}_mask.png", mask)
    return root


def test_masks_load_at_the_evaluation_size_with_normal_images_empty(tmp_path):
    root = make_inspection_folder(str(tmp_path / "d"))
    paths = [f"{root}/test/good/000.png", f"{root}/test/bright/000.png"]
    masks = load_masks(paths, [None, f"{root}/ground_truth/bright/000_mask.png"], [0, 1], 24)
    assert masks.shape == (2, 24, 24) and masks.dtype == np.uint8
    assert masks[0].sum() == 0 and masks[1].sum() == 16  # 8x8 square at half size


def test_a_mask_of_another_size_than_its_image_is_refused(tmp_path):
    root = make_inspection_folder(str(tmp_path / "d"))
    _write_array(f"{root}/ground_truth/bright/001_mask.png", np.zeros((20, 30), np.uint8))
    with pytest.raises(ValueError, match="001_mask.png' is 30x20 but its image .* 48x48"):
        DataSpec(source="folder", path=root, image_size=16).splits()


def test_a_mask_that_matches_no_image_is_refused(tmp_path):
    root = make_inspection_folder(str(tmp_path / "d"))
    _write_array(f"{root}/ground_truth/bright/999_mask.png", np.zeros((48, 48), np.uint8))
    with pytest.raises(ValueError, match="999_mask.png' matches no test image.*Rename or remove"):
        DataSpec(source="folder", path=root, image_size=16).splits()

