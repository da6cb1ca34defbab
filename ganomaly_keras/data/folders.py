"""Folders of inspection images: the MVTec AD layout and the reference code's layout.

MVTec AD::

    root/train/good/*.png
    root/test/good/*.png
    root/test/<defect>/*.png
    root/ground_truth/<defect>/<name>_mask.png   (optional)

The GANomaly reference code::

    root/train/0.normal/*   root/test/0.normal/*   root/test/1.abnormal/*

Images may be PNG, JPEG, BMP, GIF or TIFF, grayscale or colour, of any size. This module finds
the files and splits them (`folder_protocol`); `ganomaly_keras.data.decoding` turns
them into images (streamed through `image_dataset`, or loaded with `load_split`).
"""

import os
from typing import NamedTuple

import numpy as np

from ganomaly_keras.data.images import IMAGE_EXTENSIONS

NORMAL_FOLDERS = {"mvtec": "good", "reference": "0.normal"}


class FileSplit(NamedTuple):
    """Image files of one split with their labels (1 = anomaly).

    `defects` names each file's folder ("good", a defect type, "0.normal",
    "1.abnormal"); `masks` holds each file's ground-truth mask path, or None.
    """

    paths: tuple
    labels: np.ndarray
    defects: tuple
    masks: tuple

    def __len__(self):
        return len(self.paths)

    def subset(self, indices):
        indices = np.asarray(indices, np.int64)
        return FileSplit(
            tuple(self.paths[i] for i in indices),
            self.labels[indices],
            tuple(self.defects[i] for i in indices),
            tuple(self.masks[i] for i in indices),
        )

    @staticmethod
    def concatenate(*splits):
        return FileSplit(
            sum((s.paths for s in splits), ()),
            np.concatenate([s.labels for s in splits]).astype(np.int64),
            sum((s.defects for s in splits), ()),
            sum((s.masks for s in splits), ()),
        )


def list_images(directory):
    """Sorted paths of the image files in `directory` (not recursive)."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"image folder {directory!r} does not exist.")
    try:
        names = sorted(os.listdir(directory))
    except OSError as error:
        raise ValueError(f"cannot read image folder {directory!r}: {error}") from error
    paths = [
        os.path.join(directory, name)
        for name in names
        if name.lower().endswith(IMAGE_EXTENSIONS)
        and os.path.isfile(os.path.join(directory, name))
    ]
    if not paths:
        raise ValueError(
            f"image folder {directory!r} holds no {'/'.join(IMAGE_EXTENSIONS)} files "
            f"(it has {len(names)} other entries). Point to the folder of images."
        )
    return paths


def _some(names, shown=5):
    """A few names and the count: "a, b, c, d, e and 145 more (150 entries)"."""
    names = sorted(names)
    if len(names) <= shown:
        return ", ".join(names) or "nothing"
    return f"{', '.join(names[:shown])} and {len(names) - shown} more ({len(names)} entries)"


def detect_layout(root):
    """`"mvtec"` or `"reference"`, from the folders under `root`.

    Raises:
        ValueError: naming a few of what the folder holds; pointing to the quality
            suite when it holds dataset folders instead of being one.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"dataset folder {root!r} does not exist.")
    for layout, normal in NORMAL_FOLDERS.items():
        if os.path.isdir(os.path.join(root, "train", normal)):
            return layout
    entries = os.listdir(root)
    datasets = [e for e in entries if os.path.isdir(os.path.join(root, e, "train"))]
    if datasets:
        raise ValueError(
            f"{root!r} holds {len(datasets)} dataset folders ({_some(datasets, 3)}), not "
            "one: train on one of them (--folder ROOT/NAME), or on all with "
            f"ganomaly-keras benchmark quality --folder-suite {root}."
        )
    raise ValueError(
        f"{root!r} has neither the MVTec AD layout (train/good, test/good, "
        "test/<defect>) nor the reference layout (train/0.normal, test/0.normal, "
        f"test/1.abnormal); it holds {_some(entries)}."
    )


def _mask_path(root, defect, path):
    stem = os.path.splitext(os.path.basename(path))[0]
    mask = os.path.join(root, "ground_truth", defect, f"{stem}_mask.png")
    return mask if os.path.isfile(mask) else None


def read_folder_dataset(root):
    """The train and test files of a dataset folder, in either layout.

    Returns:
        `{"layout": str, "train": FileSplit, "test": FileSplit}`. Train files are all
        normal; test files are labelled 1 unless they sit in the normal folder.
    """
    root = os.fspath(root)
    layout = detect_layout(root)
    normal = NORMAL_FOLDERS[layout]
    train_paths = list_images(os.path.join(root, "train", normal))
    train = FileSplit(
        tuple(train_paths),
        np.zeros(len(train_paths), np.int64),
        (normal,) * len(train_paths),
        (None,) * len(train_paths),
    )
    test_root = os.path.join(root, "test")
    if not os.path.isdir(test_root):
        raise FileNotFoundError(f"{root!r} has no test folder ({test_root!r}).")
    folders = sorted(
        d for d in os.listdir(test_root) if os.path.isdir(os.path.join(test_root, d))
    )
    if layout == "reference":
        folders = [d for d in folders if d in ("0.normal", "1.abnormal")]
    paths, labels, defects, masks = [], [], [], []
    for folder in folders:
        for path in list_images(os.path.join(test_root, folder)):
            paths.append(path)
            labels.append(int(folder != normal))
            defects.append(folder)
            masks.append(_mask_path(root, folder, path) if folder != normal else None)
    test = FileSplit(tuple(paths), np.asarray(labels, np.int64), tuple(defects), tuple(masks))
    if not set(test.labels.tolist()) == {0, 1}:
        raise ValueError(
            f"{test_root!r} needs both normal ({normal}/) and anomalous folders; "
            f"found {folders}."
        )
    return {"layout": layout, "train": train, "test": test}


def folder_protocol(root, validation_fraction=0.1, test_to_validation_fraction=0.2, seed=0):
    """Train / validation / test splits of a dataset folder, fixed by `seed`.

    Training: the normal train images less a `validation_fraction` held back.
    Validation: those held-back normal images plus a stratified
    `test_to_validation_fraction` of the test folder's images (normal and anomalous),
    which leave the test split, so that validation AUROC and an F1 threshold are
    available without ever touching a test image. Set it to 0 to keep the whole test
    folder for testing (the published MVTec protocol); validation is then normal only.

    Returns:
        dict of `FileSplit`s: "train", "validation", "test".
    """
    if not 0 <= validation_fraction < 1 or not 0 <= test_to_validation_fraction < 1:
        raise ValueError(
            "validation_fraction and test_to_validation_fraction must be in [0, 1); "
            f"got {validation_fraction} and {test_to_validation_fraction}."
        )
    data = read_folder_dataset(root)
    train, test = data["train"], data["test"]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train))
    n_val = int(round(validation_fraction * len(train)))
    moved, kept = [], []
    for label in (0, 1):
        idx = rng.permutation(np.flatnonzero(test.labels == label))
        n_move = int(round(test_to_validation_fraction * len(idx)))
        moved.append(idx[:n_move])
        kept.append(idx[n_move:])
    return {
        "train": train.subset(np.sort(order[n_val:])),
        "validation": FileSplit.concatenate(
            train.subset(np.sort(order[:n_val])),
            test.subset(np.sort(np.concatenate(moved))),
        ),
        "test": test.subset(np.sort(np.concatenate(kept))),
    }
