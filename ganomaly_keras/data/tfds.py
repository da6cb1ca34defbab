"""Image classification datasets from tensorflow-datasets (`mnist`, `cifar10`, ...).

Offline, `tfds.load` of a dataset that is not prepared retries its downloads for
minutes before failing. `load_tfds` checks first: a dataset that is neither prepared in
`data_dir` nor downloadable right now fails at once, with the commands that prepare it.
"""

import os
import socket

import numpy as np

from ganomaly_keras.data.preprocessing import preprocess_images

# tfds downloads most image datasets from Google Cloud Storage or the dataset's site;
# reaching this host at all is the cheapest sign that downloading can work.
_PROBE_HOST = ("storage.googleapis.com", 443)


def network_reachable(address=_PROBE_HOST, timeout=3.0):
    """True when a TCP connection to `address` opens within `timeout` seconds."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def _preparation_hint(name, data_dir):
    target = data_dir or "~/tensorflow_datasets"
    return (
        f"Prepare it on a machine with internet access: `tfds build {name} "
        f"--data_dir {target}` (or `python -c \"import tensorflow_datasets as tfds; "
        f"tfds.load('{name}', data_dir='{target}')\"`), copy that folder here and pass "
        "data_dir=<that folder>."
    )


def tfds_builder(name, data_dir=None, download=True):
    """The prepared `tfds` builder of `name`, downloading it only if that can work.

    Raises:
        ValueError: unknown dataset name.
        RuntimeError: not prepared in `data_dir`, and `download=False` or the network
            is unreachable.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            f"tensorflow-datasets has no dataset named {name!r} (and none is prepared "
            f"under data_dir={data_dir!r}). Check the name against "
            "https://www.tensorflow.org/datasets/catalog or pass the data_dir that "
            f"holds it. ({str(error).splitlines()[0]})"
        ) from None
    if builder.is_prepared():
        return builder
    where = os.fspath(builder.data_dir)
    if not download:
        raise RuntimeError(
            f"tfds dataset {name!r} is not prepared in {where} and download=False. "
            + _preparation_hint(name, data_dir)
        )
    if not network_reachable():
        raise RuntimeError(
            f"tfds dataset {name!r} is not prepared in {where} and this machine "
            f"cannot reach {_PROBE_HOST[0]} to download it. "
            + _preparation_hint(name, data_dir)
        )
    builder.download_and_prepare()
    return builder


def _image_and_label_keys(features):
    """The image and class-label feature names of a tfds `FeaturesDict`."""
    import tensorflow_datasets as tfds

    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if len(images) != 1 or not labels:
        raise ValueError(
            "need an image classification dataset with one Image feature and a "
            f"ClassLabel feature; this one has {dict(features)}. Pass image_key= and "
            "label_key=."
        )
    return images[0], "label" if "label" in labels else labels[0]


def load_tfds(
    name,
    image_size=32,
    channels=None,
    data_dir=None,
    splits=("train", "test"),
    image_key=None,
    label_key=None,
    download=True,
):
    """Load and preprocess an image classification dataset from tensorflow-datasets.

    Args:
        name: tfds name, e.g. `"mnist"`, `"fashion_mnist"`, `"cifar10"`.
        image_size: output side; images are resized bilinearly.
        channels: 1 or 3; None keeps the dataset's own channel count.
        data_dir: where the prepared dataset lives (tfds' default when None).
        splits: the two tfds split names used as train and test.
        image_key, label_key: feature names; found from the features when None.
        download: download and prepare a missing dataset when the network allows.

    Returns:
        `(x_train, y_train), (x_test, y_test)` like `load_npz`: images float32 in
        [-1, 1] of shape `(n, image_size, image_size, channels)`, labels int64.

    Example:
    ```python
    train, test = load_tfds("fashion_mnist", image_size=32, data_dir="~/tfds")
    splits = paper_leave_one_class_out(train, test, abnormal_class=0)
    ```
    """
    import tensorflow_datasets as tfds

    builder = tfds_builder(name, data_dir=data_dir, download=download)
    found_image, found_label = _image_and_label_keys(builder.info.features)
    image_key, label_key = image_key or found_image, label_key or found_label
    image_shape = builder.info.features[image_key].shape
    if channels is None:
        channels = image_shape[-1] if image_shape[-1] in (1, 3) else 3
    available = list(builder.info.splits.keys())
    result = []
    for split in splits:
        if split not in available:
            raise ValueError(
                f"tfds dataset {name!r} has splits {available}; {split!r} is not one."
            )
        data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        images = preprocess_images(data[image_key], image_size, channels)
        result.append((images, np.asarray(data[label_key], np.int64).ravel()))
    return tuple(result)
