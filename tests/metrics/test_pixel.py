"""metrics/pixel.py: pixel AUROC and AUPRO, exact, against hand-made maps and masks."""


import numpy as np
import pytest

from ganomaly_keras.metrics.pixel import aupro, pixel_auroc, pixel_metrics, pro_curve


def test_pixel_auroc_of_a_perfect_and_an_inverted_map():
    masks = np.zeros((2, 6, 6), np.uint8)
    masks[0, 1:3, 1:3] = 1
    assert pixel_auroc(masks.astype(float), masks) == 1.0
    assert pixel_auroc(1.0 - masks, masks) == 0.0


def test_aupro_counts_each_region_once_whatever_its_size():
    """Two regions, a large one found perfectly and a small one missed: PRO is 0.5
    at FPR 0 (not the 36/37 that pixel counting would give) and rises linearly to 1
    at FPR 1, so up to FPR 0.3 the area is (0.5 + 0.65) / 2 * 0.3, normalised 0.575."""
    masks = np.zeros((2, 10, 10), np.uint8)
    masks[0, 0:6, 0:6] = 1  # 36 pixels, found
    masks[1, 8, 8] = 1  # 1 pixel, missed (scored like the background)
    maps = masks[0:1].astype(float).repeat(2, 0)
    maps[1] = 0.0
    maps[0] = masks[0]
    assert aupro(maps, masks) == pytest.approx(0.575)
    fpr, pro = pro_curve(maps, masks)
    assert pro[1] == pytest.approx(0.5) and fpr[1] == 0.0


def test_all_normal_images_count_as_false_positives_only():
    masks = np.zeros((3, 8, 8), np.uint8)
    masks[0, 2:4, 2:4] = 1
    maps = np.zeros((3, 8, 8))
    maps[0, 2:4, 2:4] = 1.0
    maps[2, 0, 0] = 2.0  # a normal image's hot pixel outranks the defect
    # One normal pixel of 188 is above the defect: PRO stays 0 until FPR 1/188, then
    # jumps to 1 (the whole region crosses at once), so the area lost is 1/188 wide.
    expected_fpr = 1 / (3 * 64 - 4)
    fpr, pro = pro_curve(maps, masks)
    assert fpr[1] == pytest.approx(expected_fpr) and pro[1] == 0.0 and pro[2] == 1.0
    assert aupro(maps, masks) == pytest.approx(1 - expected_fpr / 0.3, abs=1e-9)
    # Without any defect there is nothing to localise.
    assert pixel_metrics(maps[1:], masks[1:]) == {"pixel_auroc": None, "aupro": None}


def test_random_maps_give_the_chance_levels():
    rng = np.random.default_rng(0)
    maps = rng.random((40, 32, 32))
    masks = (rng.random((40, 32, 32)) < 0.05).astype(np.uint8)
    assert pixel_auroc(maps, masks) == pytest.approx(0.5, abs=0.02)
    assert aupro(maps, masks) == pytest.approx(0.15, abs=0.02)  # max_fpr / 2


def test_pixel_metrics_refuse_maps_and_masks_of_different_shapes():
    with pytest.raises(ValueError, match="resize_maps"):
        pixel_auroc(np.zeros((2, 8, 8)), np.zeros((2, 16, 16)))
    with pytest.raises(ValueError, match="binary"):
        aupro(np.zeros((1, 4, 4)), np.full((1, 4, 4), 255))

