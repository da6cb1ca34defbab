"""Evaluation protocols (leave one class out, the paper's MNIST split, one class,
contamination, folders), each fixed by a seed.

Label convention everywhere: 1 = anomaly, 0 = normal.
"""

from typing import NamedTuple, Optional

import numpy as np


class Split(NamedTuple):
    """Images and anomaly labels (1 = anomaly) of one protocol split.

    Folders add binary ground-truth masks `(n, h, w)` where they have them, each
    image's file path, and its defect type (the name of its folder, "good" for
    normal images); arrays leave these None.
    """

    images: np.ndarray
    labels: np.ndarray
    masks: Optional[np.ndarray] = None
    paths: Optional[tuple] = None
    defects: Optional[tuple] = None


def _check_images_and_classes(images, classes, wanted_class, role):
    images = np.asarray(images)
    classes = np.asarray(classes).ravel()
    if len(images) != len(classes):
        raise ValueError(
            f"images and classes differ in length: {len(images)} vs {len(classes)}."
        )
    if wanted_class not in set(classes.tolist()):
        raise ValueError(
            f"{role} {wanted_class!r} does not occur; classes present: "
            f"{sorted(set(classes.tolist()))}."
        )
    return images, classes


def _labelled(images, normal_idx, abnormal_idx):
    idx = np.concatenate([normal_idx, abnormal_idx]).astype(np.int64)
    labels = np.concatenate(
        [np.zeros(len(normal_idx), np.int64), np.ones(len(abnormal_idx), np.int64)]
    )
    return Split(images[idx], labels)


def _normal_vs_abnormal(
    images, is_abnormal, test_fraction, validation_fraction, contamination, seed
):
    """Seeded train / validation / test splits of images with a known anomaly mask.

    Normal images are split `test_fraction` / `validation_fraction` / rest (train).
    Anomalous images are first drawn for training so that they make up a fraction
    `contamination` of it (`p * N_normal_train / (1 - p)`, so p is the anomalies' share of training), the
    rest divided between validation and test in the proportions of the normal images.
    """
    if not 0 < test_fraction < 1 or not 0 <= validation_fraction < 1 - test_fraction:
        raise ValueError(
            "need 0 < test_fraction < 1 and 0 <= validation_fraction < "
            f"1 - test_fraction; got {test_fraction}, {validation_fraction}."
        )
    if not 0 <= contamination < 1:
        raise ValueError(f"contamination must be in [0, 1); got {contamination}.")
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(~is_abnormal))
    abnormal = rng.permutation(np.flatnonzero(is_abnormal))

    n_test = int(round(test_fraction * len(normal)))
    n_val = int(round(validation_fraction * len(normal)))
    normal_test, normal_val, normal_train = np.split(normal, [n_test, n_test + n_val])
    n_contaminants = int(round(contamination * len(normal_train) / (1 - contamination)))
    abnormal_train, abnormal = abnormal[:n_contaminants], abnormal[n_contaminants:]
    if contamination > 0 and len(abnormal) < 2:
        raise ValueError(
            f"contamination {contamination} needs {n_contaminants} anomalous training "
            f"images and leaves too few for validation and test; lower it."
        )
    share = validation_fraction / (validation_fraction + test_fraction)
    abnormal_val, abnormal_test = np.split(abnormal, [int(round(share * len(abnormal)))])
    train = _labelled(images, normal_train, abnormal_train)
    if n_contaminants:  # shuffle the contaminants in rather than at the end
        order = rng.permutation(len(train.labels))
        train = Split(train.images[order], train.labels[order])
    return {
        "train": train,
        "validation": _labelled(images, normal_val, abnormal_val),
        "test": _labelled(images, normal_test, abnormal_test),
    }


def leave_one_class_out(
    images, classes, abnormal_class, test_fraction=0.2, validation_fraction=0.0, seed=0
):
    """The seeded leave-one-class-out protocol of the reference code.

    One class is the anomaly; the others are normal. Normal images are shuffled with
    `seed` and split: `test_fraction` of them go to test, `validation_fraction` to
    validation, the rest to training. Anomalous images are divided between validation
    and test in the same proportions (none when `validation_fraction` is 0): training
    sees no anomaly, and validation and test never share an image.

    Returns:
        dict of `Split`s: "train" (labels all 0), "validation", "test".
    """
    images, classes = _check_images_and_classes(
        images, classes, abnormal_class, "abnormal_class"
    )
    return _normal_vs_abnormal(
        images, classes == abnormal_class, test_fraction, validation_fraction, 0.0, seed
    )


def one_class(
    images, classes, normal_class, test_fraction=0.2, validation_fraction=0.1, seed=0
):
    """One class is normal, every other class is an anomaly (later papers' protocol).

    Same seeded splitting as `leave_one_class_out`, with the roles reversed.

    Returns:
        dict of `Split`s: "train" (labels all 0), "validation", "test".
    """
    images, classes = _check_images_and_classes(
        images, classes, normal_class, "normal_class"
    )
    return _normal_vs_abnormal(
        images, classes != normal_class, test_fraction, validation_fraction, 0.0, seed
    )


def contaminated_leave_one_class_out(
    images,
    classes,
    abnormal_class,
    contamination,
    test_fraction=0.2,
    validation_fraction=0.1,
    seed=0,
):
    """Leave-one-class-out with a fraction `contamination` of anomalies in training.

    Berg et al.'s setting: the training split holds
    `contamination * N_normal / (1 - contamination)` images of `abnormal_class`
    (p in {0, 0.01, 0.02, 0.05, 0.1} in the paper), shuffled in. Its labels say which
    ones are anomalies, for analysis; the model never sees them. Validation and test
    get the remaining anomalies and never share an image with training.

    Returns:
        dict of `Split`s: "train" (label 1 marks the contaminants), "validation",
        "test".
    """
    images, classes = _check_images_and_classes(
        images, classes, abnormal_class, "abnormal_class"
    )
    return _normal_vs_abnormal(
        images,
        classes == abnormal_class,
        test_fraction,
        validation_fraction,
        contamination,
        seed,
    )


def contaminated_normal_classes(
    images,
    classes,
    normal_classes,
    contamination,
    test_fraction=0.2,
    validation_fraction=0.1,
    seed=0,
):
    """Several classes are normal, the rest anomalous, and a fraction `contamination`
    of training is anomalous (Berg et al.'s setting: CIFAR-10's vehicles normal, its
    animals anomalous; here e.g. MNIST digits 0-4 against 5-9).

    Normal images are split `test_fraction` / `validation_fraction` / rest (train).
    Training then takes `round(p * N_normal_train / (1 - p))` anomalous images,
    shuffled in, so that they make up the fraction p of it; the remaining anomalies
    are divided between validation and test. Validation and test labels are the
    truth: no training contaminant is in them, and their normal side is normal.

    Args:
        images: array of images, first axis the image index.
        classes: the class of each image.
        normal_classes: the classes that count as normal (all others are anomalies).
        contamination: p in [0, 1), the anomalies' share of the training split.
        test_fraction: share of normal images in test.
        validation_fraction: share of normal images in validation.
        seed: fixes every draw.

    Returns:
        dict of `Split`s: "train" (label 1 marks the contaminants, which a model never
        sees), "validation", "test".
    """
    classes = np.asarray(classes).ravel()
    normal_classes = sorted(set(np.asarray(normal_classes).ravel().tolist()))
    present = set(classes.tolist())
    missing = [c for c in normal_classes if c not in present]
    if missing or not normal_classes:
        raise ValueError(
            f"normal_classes {normal_classes} name classes that do not occur: {missing}; "
            f"classes present: {sorted(present)}."
        )
    is_abnormal = ~np.isin(classes, normal_classes)
    if not is_abnormal.any():
        raise ValueError("normal_classes cover every class: no image is left as an anomaly.")
    images, classes = _check_images_and_classes(images, classes, normal_classes[0], "class")
    return _normal_vs_abnormal(
        images, is_abnormal, test_fraction, validation_fraction, contamination, seed
    )


def contaminated_folders(
    roots, contamination, test_fraction=0.2, validation_fraction=0.1, seed=0
):
    """Berg et al.'s setting on inspection folders: the normal images of several
    dataset folders pooled (`train/good` and `test/good` of each), their defect images
    as the anomalies, and a fraction `contamination` of training anomalous.

    The files are split as in `contaminated_normal_classes` (normal images split
    test / validation / train; `round(p * N_normal_train / (1 - p))` defect images
    into training; the rest of the defects divided between validation and test).

    Args:
        roots: MVTec-layout dataset folders (e.g. several PIPED paper types).
        contamination: p in [0, 1), the defects' share of the training split.
        test_fraction, validation_fraction, seed: as in `contaminated_normal_classes`.

    Returns:
        dict of `FileSplit`s: "train" (label 1 marks the contaminants), "validation",
        "test".
    """
    from ganomaly_keras.data.folders import FileSplit, read_folder_dataset

    if not roots:
        raise ValueError("contaminated_folders needs at least one dataset folder.")
    files = FileSplit.concatenate(*(
        FileSplit.concatenate(data["train"], data["test"])
        for data in map(read_folder_dataset, roots)
    ))
    splits = _normal_vs_abnormal(
        np.arange(len(files)), files.labels == 1, test_fraction, validation_fraction,
        contamination, seed,
    )
    return {name: files.subset(split.images) for name, split in splits.items()}


def paper_leave_one_class_out(
    train, test, abnormal_class, validation_fraction=0.1, seed=0
):
    """The GANomaly paper's leave-one-class-out protocol on a dataset's own splits.

    Training: the normal classes of the train split, less a seeded
    `validation_fraction` of them. Validation: those held-back normal images plus the
    abnormal class's images of the train split (never trained on). Test: the whole
    test split, labelled 1 for the abnormal class. Validation and test are disjoint,
    so model selection and calibration never see a test image.

    Args:
        train: `(images, classes)` of the dataset's train split.
        test: `(images, classes)` of its test split.
        abnormal_class: the class that plays the anomaly.
        validation_fraction: share of normal train images held out for validation.
        seed: fixes the validation draw.

    Returns:
        dict of `Split`s: "train", "validation", "test".
    """
    (x_train, c_train), (x_test, c_test) = train, test
    c_train, c_test = np.asarray(c_train), np.asarray(c_test)
    if abnormal_class not in set(c_train.tolist()) | set(c_test.tolist()):
        raise ValueError(
            f"abnormal_class {abnormal_class!r} does not occur; classes present: "
            f"{sorted(set(c_train.tolist()))}."
        )
    if not 0 < validation_fraction < 1:
        raise ValueError(
            f"validation_fraction must be in (0, 1); got {validation_fraction}."
        )
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(c_train != abnormal_class))
    n_val = int(round(validation_fraction * len(normal)))
    normal_val, normal_train = normal[:n_val], normal[n_val:]
    abnormal_val = np.flatnonzero(c_train == abnormal_class)
    val_idx = np.concatenate([normal_val, abnormal_val])
    return {
        "train": Split(x_train[normal_train], np.zeros(len(normal_train), np.int64)),
        "validation": Split(
            x_train[val_idx],
            np.concatenate(
                [np.zeros(len(normal_val), np.int64), np.ones(len(abnormal_val), np.int64)]
            ),
        ),
        "test": Split(x_test, (c_test == abnormal_class).astype(np.int64)),
    }
