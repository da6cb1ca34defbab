"""data/protocols.py: leave-one-class-out, the paper's protocol, one-class, and
contaminated training, disjoint and seeded."""

import os

import numpy as np
import pytest

from ganomaly_keras.data import leave_one_class_out


def test_leave_one_class_out_is_disjoint_seeded_and_clean():
    classes = np.repeat(np.arange(10), 50)
    images = np.arange(len(classes))  # the "image" is its own index
    splits = leave_one_class_out(images, classes, 3, validation_fraction=0.1, seed=5)
    train, val, test = splits["train"], splits["validation"], splits["test"]
    assert not np.any(train.labels) and not np.any(classes[train.images] == 3)
    assert set(train.images).isdisjoint(val.images)
    assert set(train.images).isdisjoint(test.images)
    assert set(val.images).isdisjoint(test.images)
    assert len(train.images) + len(val.images) + len(test.images) == 500
    assert len(test.images) - test.labels.sum() == 90  # 20% of the 450 normal
    np.testing.assert_array_equal(test.labels, classes[test.images] == 3)
    np.testing.assert_array_equal(val.labels, classes[val.images] == 3)
    assert val.labels.sum() == round(50 / 3) and test.labels.sum() == 50 - round(50 / 3)
    again = leave_one_class_out(images, classes, 3, validation_fraction=0.1, seed=5)
    np.testing.assert_array_equal(again["test"].images, test.images)
    other = leave_one_class_out(images, classes, 3, validation_fraction=0.1, seed=6)
    assert not np.array_equal(other["test"].images, test.images)


def test_leave_one_class_out_errors():
    with pytest.raises(ValueError, match="does not occur"):
        leave_one_class_out(np.zeros(4), np.array([0, 0, 1, 1]), 7)
    with pytest.raises(ValueError, match="differ in length"):
        leave_one_class_out(np.zeros(3), np.array([0, 1]), 1)


def test_paper_protocol_keeps_validation_and_test_apart(rng):
    from ganomaly_keras.data import paper_leave_one_class_out

    c_train, c_test = np.repeat(np.arange(3), 20), np.repeat(np.arange(3), 10)
    x_train, x_test = np.arange(60), 1000 + np.arange(30)  # images are their ids
    splits = paper_leave_one_class_out((x_train, c_train), (x_test, c_test), 1, seed=0)
    train, val, test = splits["train"], splits["validation"], splits["test"]
    assert not np.any(c_train[train.images] == 1) and len(train.images) == 36
    assert val.labels.sum() == 20 and (val.labels == 0).sum() == 4
    np.testing.assert_array_equal(val.labels, c_train[val.images] == 1)
    assert set(train.images).isdisjoint(val.images)
    np.testing.assert_array_equal(test.images, x_test)  # the whole test split
    np.testing.assert_array_equal(test.labels, c_test == 1)


def test_one_class_makes_every_other_class_anomalous():
    from ganomaly_keras.data import one_class

    classes = np.repeat(np.arange(5), 40)
    images = np.arange(len(classes))
    splits = one_class(images, classes, normal_class=2, seed=1)
    train, val, test = splits["train"], splits["validation"], splits["test"]
    assert set(classes[train.images].tolist()) == {2} and not train.labels.any()
    for split in (val, test):
        np.testing.assert_array_equal(split.labels, classes[split.images] != 2)
        assert set(split.labels.tolist()) == {0, 1}
    assert len(set(train.images) | set(val.images) | set(test.images)) == 200
    with pytest.raises(ValueError, match="normal_class 9 does not occur"):
        one_class(images, classes, normal_class=9)


@pytest.mark.parametrize("p", [0.0, 0.01, 0.05, 0.1])
def test_contamination_puts_the_asked_fraction_of_anomalies_in_training(p):
    from ganomaly_keras.data import contaminated_leave_one_class_out

    classes = np.repeat(np.arange(10), 200)
    images = np.arange(len(classes))
    splits = contaminated_leave_one_class_out(images, classes, 7, contamination=p, seed=0)
    train, val, test = splits["train"], splits["validation"], splits["test"]
    n_normal = int((train.labels == 0).sum())
    assert train.labels.sum() == round(p * n_normal / (1 - p))
    assert train.labels.mean() == pytest.approx(p, abs=0.001)
    np.testing.assert_array_equal(train.labels, classes[train.images] == 7)
    assert val.labels.sum() > 0 and test.labels.sum() > 0
    ids = [set(s.images.tolist()) for s in (train, val, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    with pytest.raises(ValueError, match="contamination must be in"):
        contaminated_leave_one_class_out(images, classes, 7, contamination=1.0)


@pytest.mark.parametrize("p", [0.0, 0.01, 0.05, 0.1, 0.2])
def test_a_contaminated_multi_class_normal_set_has_the_stated_fraction(p):
    """Digits 0-4 normal, 5-9 anomalous (Berg et al.'s setting): training holds the
    fraction p of anomalies; validation's and test's normal sides hold none."""
    from ganomaly_keras.data import contaminated_normal_classes

    classes = np.repeat(np.arange(10), 300)
    images = np.arange(len(classes))  # each image is its own index
    splits = contaminated_normal_classes(images, classes, [0, 1, 2, 3, 4], p, seed=3)
    train, val, test = splits["train"], splits["validation"], splits["test"]
    n_normal = int((train.labels == 0).sum())
    assert train.labels.sum() == round(p * n_normal / (1 - p))
    assert train.labels.mean() == pytest.approx(p, abs=0.001)
    for split in (train, val, test):
        np.testing.assert_array_equal(split.labels, classes[split.images] >= 5)
    assert set(classes[train.images[train.labels == 0]].tolist()) == {0, 1, 2, 3, 4}
    assert val.labels.sum() > 0 and (val.labels == 0).sum() > 0
    ids = [set(s.images.tolist()) for s in (train, val, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    again = contaminated_normal_classes(images, classes, [0, 1, 2, 3, 4], p, seed=3)
    np.testing.assert_array_equal(again["train"].images, train.images)


def test_contaminated_normal_classes_name_bad_classes():
    from ganomaly_keras.data import contaminated_normal_classes

    classes = np.repeat(np.arange(3), 10)
    with pytest.raises(ValueError, match=r"do not occur: \[7\]"):
        contaminated_normal_classes(np.arange(30), classes, [0, 7], 0.1)
    with pytest.raises(ValueError, match="no image is left as an anomaly"):
        contaminated_normal_classes(np.arange(30), classes, [0, 1, 2], 0.1)


def test_pooled_folders_put_defects_into_training_at_the_stated_fraction(tmp_path):
    from PIL import Image

    from ganomaly_keras.data import contaminated_folders

    roots = []
    for kind in ("paper_a", "paper_b"):
        for folder, n in (("train/good", 30), ("test/good", 10), ("test/impurity", 20)):
            os.makedirs(tmp_path / kind / folder)
            for i in range(n):
                Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / kind / folder / f"{i}.png")
        roots.append(str(tmp_path / kind))
    splits = contaminated_folders(roots, 0.1, seed=0)
    train = splits["train"]
    n_normal = int((train.labels == 0).sum())
    assert train.labels.sum() == round(0.1 * n_normal / 0.9) > 0
    for split in splits.values():  # labels follow the folders, both paper types pooled
        assert [d != "good" for d in split.defects] == split.labels.astype(bool).tolist()
    assert {p.split(os.sep)[-4] for p in train.paths} == {"paper_a", "paper_b"}
    paths = [set(s.paths) for s in splits.values()]
    assert sum(map(len, paths)) == len(set().union(*paths)) == 120

