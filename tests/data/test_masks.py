"""data/masks.py: ground-truth masks at the evaluation size, and masks that cannot be
right refused by name."""



import numpy as np
import pytest

from ganomaly_keras.data.masks import load_masks
from ganomaly_keras.data.spec import DataSpec
from tests import helpers


def test_masks_load_at_the_evaluation_size_with_normal_images_empty(tmp_path):
    root = helpers.make_inspection_folder(str(tmp_path / "d"))
    paths = [f"{root}/test/good/000.png", f"{root}/test/bright/000.png"]
    masks = load_masks(paths, [None, f"{root}/ground_truth/bright/000_mask.png"], [0, 1], 24)
    assert masks.shape == (2, 24, 24) and masks.dtype == np.uint8
    assert masks[0].sum() == 0 and masks[1].sum() == 16  # 8x8 square at half size


def test_a_mask_of_another_size_than_its_image_is_refused(tmp_path):
    root = helpers.make_inspection_folder(str(tmp_path / "d"))
    helpers.write_array(f"{root}/ground_truth/bright/001_mask.png", np.zeros((20, 30), np.uint8))
    with pytest.raises(ValueError, match="001_mask.png' is 30x20 but its image .* 48x48"):
        DataSpec(source="folder", path=root, image_size=16).splits()


def test_a_mask_that_matches_no_image_is_refused(tmp_path):
    root = helpers.make_inspection_folder(str(tmp_path / "d"))
    helpers.write_array(f"{root}/ground_truth/bright/999_mask.png", np.zeros((48, 48), np.uint8))
    with pytest.raises(ValueError, match="999_mask.png' matches no test image.*Rename or remove"):
        DataSpec(source="folder", path=root, image_size=16).splits()

