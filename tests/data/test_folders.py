"""data/folders.py: the MVTec AD and reference layouts, their labels and masks, the
folder protocol's splits, and a folder's channels."""


import os

import pytest

from ganomaly_keras.data import (
    folder_protocol,
    read_folder_dataset,
)
from ganomaly_keras.data.spec import DataSpec
from tests import helpers


def test_folder_channels_follow_the_images(tmp_path):
    root = helpers.make_inspection_folder(str(tmp_path / "d"))
    assert DataSpec(source="folder", path=root, image_size=16).splits()["channels"] == 3


def test_mvtec_layout_is_read_with_labels_and_masks(mvtec_folder):
    data = read_folder_dataset(mvtec_folder)
    assert data["layout"] == "mvtec"
    assert len(data["train"]) == 10 and set(data["train"].labels.tolist()) == {0}
    test = data["test"]
    assert len(test) == 10 and test.labels.sum() == 5
    assert all(m is None for m, y in zip(test.masks, test.labels) if y == 0)
    assert all(m.endswith("_mask.png") for m, y in zip(test.masks, test.labels) if y == 1)
    assert set(test.defects) == {"good", "crack"}


def test_folder_protocol_splits_are_disjoint_seeded_and_stratified(mvtec_folder):
    splits = folder_protocol(mvtec_folder, validation_fraction=0.2, seed=3)
    again = folder_protocol(mvtec_folder, validation_fraction=0.2, seed=3)
    assert splits["validation"].paths == again["validation"].paths
    paths = [set(s.paths) for s in splits.values()]
    assert not (paths[0] & paths[1] or paths[0] & paths[2] or paths[1] & paths[2])
    assert set(splits["train"].labels.tolist()) == {0} and len(splits["train"]) == 8
    assert set(splits["validation"].labels.tolist()) == {0, 1}
    assert set(splits["test"].labels.tolist()) == {0, 1}
    assert sum(len(s) for s in splits.values()) == 20


def test_reference_layout(tmp_path):
    root = tmp_path / "ref"
    for folder, n, value in (("train/0.normal", 4, 10), ("test/0.normal", 2, 10), ("test/1.abnormal", 3, 250)):
        for i in range(n):
            helpers.write_flat_image(str(root / folder / f"{i}.png"), 32, "L", value, "PNG")
    data = read_folder_dataset(root)
    assert data["layout"] == "reference"
    assert len(data["train"]) == 4 and data["test"].labels.tolist() == [0, 0, 1, 1, 1]


def test_bad_folders_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_folder_dataset(tmp_path / "missing")
    os.makedirs(tmp_path / "flat/images")
    with pytest.raises(ValueError, match="neither the MVTec AD layout"):
        read_folder_dataset(tmp_path / "flat")
    os.makedirs(tmp_path / "empty/train/good")
    with pytest.raises(ValueError, match="holds no .png"):
        read_folder_dataset(tmp_path / "empty")

