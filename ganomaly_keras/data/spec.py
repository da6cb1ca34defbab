"""One description of "which data, which protocol" that a run can save and reload.

`DataSpec` names a source (scikit-learn digits, an `.npz`, a tfds dataset or a folder)
and a protocol (leave-one-class-out, one-class, contaminated training, folder) with its
seed. `DataSpec.splits()` builds the train / validation / test splits; the command-line
tool stores the spec in a run's `config.json`, so `evaluate` and `export` rebuild
exactly the splits the model was trained and calibrated on.
"""

import dataclasses
import os
from typing import NamedTuple, Optional

import numpy as np
from PIL import Image as PILImage

from ganomaly_keras import arguments
from ganomaly_keras.data.images import image_channels
from ganomaly_keras.data.protocols import (
    contaminated_leave_one_class_out,
    leave_one_class_out,
    one_class,
    paper_leave_one_class_out,
)

SOURCES = ("digits", "npz", "tfds", "folder")
# Normal training images kept in memory for int8 calibration of a streamed folder.
SAMPLE_IMAGES = 256


@dataclasses.dataclass
class DataSpec:
    """Which data and which protocol.

    Args:
        source: "digits" (default, no download), "npz", "tfds" or "folder".
        path: the `.npz` file or the dataset folder.
        name: the tfds dataset name.
        data_dir: tfds' data folder.
        image_size, channels: the model's input; channels None = the data's own
            (1 for digits and MNIST-like data; a folder's first training image
            decides: 1 if it is grayscale, else 3).
        abnormal_class: leave-one-class-out: this class is the anomaly.
        normal_class: one-class protocol: this class is normal, all others anomalous
            (overrides abnormal_class).
        contamination: fraction of anomalies put into training (Berg et al.).
        seed: fixes every split.
        validation_fraction: share of normal training images held out for validation.
        on_error: folders only: "raise" or "skip" unreadable images.
        working_size: optional size at which images are loaded and scored, larger
            than `image_size`: an int (a square), `(height, width)`, "WIDTHxHEIGHT",
            or for folders "auto" (the training images' median size, aspect ratio
            kept, long side at most 640, on the tile grid:
            `ganomaly_keras.scoring.tiling.derived_shape`). Training then takes
            random `image_size` patches and scoring runs over tiles.
    """

    source: str = "digits"
    path: Optional[str] = None
    name: Optional[str] = None
    data_dir: Optional[str] = None
    image_size: int = 32
    channels: Optional[int] = None
    working_size: Optional[object] = None
    abnormal_class: int = 0
    normal_class: Optional[int] = None
    contamination: float = 0.0
    seed: int = 0
    validation_fraction: float = 0.1
    on_error: str = "raise"

    def __post_init__(self):
        arguments.choice("source", self.source, SOURCES)
        arguments.choice("on_error", self.on_error, ("raise", "skip"))
        if self.channels is not None:
            arguments.choice("channels", self.channels, (1, 3))
        from ganomaly_keras.networks.layers import validate_image_size

        self.image_size = validate_image_size(self.image_size)
        self.abnormal_class = arguments.integer("abnormal_class", self.abnormal_class, minimum=0)
        if self.normal_class is not None:
            self.normal_class = arguments.integer("normal_class", self.normal_class, minimum=0)
        self.contamination = arguments.fraction("contamination", self.contamination)
        self.validation_fraction = arguments.fraction(
            "validation_fraction", self.validation_fraction
        )
        self.seed = arguments.seed("seed", self.seed)
        if self.source in ("npz", "folder") and not self.path:
            raise ValueError(f"source {self.source!r} needs a path.")
        if self.source in ("npz", "folder") and not os.path.exists(self.path):
            raise FileNotFoundError(f"{self.source} path {self.path!r} does not exist.")
        if self.source == "tfds" and not self.name:
            raise ValueError("source 'tfds' needs a dataset name (e.g. mnist).")
        if self.working_size == "auto":
            self.working_size = self._derived_working_size()
        if self.working_size is not None:
            from ganomaly_keras.scoring.tiling import validate_working_size

            self.working_size = validate_working_size(self.working_size, self.image_size)
        if self.normal_class is not None and self.contamination:
            raise ValueError("contamination applies to leave-one-class-out, not one-class.")

    def _derived_working_size(self):
        """The working size "auto" means: from the folder's training images' sizes
        (headers only), or None where that size is the model's input."""
        from ganomaly_keras.data.folders import NORMAL_FOLDERS, detect_layout, list_images
        from ganomaly_keras.scoring.tiling import derived_shape

        if self.source != "folder":
            raise ValueError(
                'working_size "auto" is derived from a folder\'s images; give a size '
                "for other sources."
            )
        folder = os.path.join(self.path, "train", NORMAL_FOLDERS[detect_layout(self.path)])
        shapes = []
        for path in list_images(folder)[:64]:
            try:
                with PILImage.open(path) as image:
                    shapes.append((image.size[1], image.size[0]))
            except (OSError, ValueError):  # unreadable: named when the split decodes
                continue
        if not shapes:
            return None
        shape = derived_shape(shapes, self.image_size)
        return None if shape == (self.image_size, self.image_size) else list(shape)

    @property
    def load_size(self):
        """`(height, width)` images are loaded at: the working size when tiling, else
        `image_size` squared."""
        from ganomaly_keras.scoring.tiling import working_shape

        return working_shape(self.working_size, self.image_size) or (
            self.image_size, self.image_size
        )

    def to_dict(self):
        """Every field, for JSON.

        Returns:
            dict of the fields (what a run's config.json stores under "data").
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, config):
        """The spec `to_dict` wrote.

        Args:
            config: dict of `DataSpec` fields.

        Returns:
            a `DataSpec`.
        """
        return cls(**config)

    @property
    def protocol(self):
        """The split protocol the fields select: "folder", "one_class",
        "contaminated_leave_one_class_out" or "leave_one_class_out"."""
        if self.source == "folder":
            return "folder"
        if self.normal_class is not None:
            return "one_class"
        if self.contamination:
            return "contaminated_leave_one_class_out"
        return "leave_one_class_out"

    def _classes(self):
        """`(images, classes)` pools, or the dataset's `(train, test)` pairs."""
        channels = self.channels or 1
        if self.source == "digits":
            from ganomaly_keras.data.digits import load_digits

            return load_digits(self.load_size, channels), None
        if self.source == "npz":
            from ganomaly_keras.data.npz import load_npz

            return None, load_npz(self.path, self.load_size, channels)
        from ganomaly_keras.data.tfds import load_tfds

        return None, load_tfds(
            self.name, self.load_size, self.channels, data_dir=self.data_dir
        )

    def splits(self):
        """Build the splits.

        Returns:
            dict: "train" (NumPy images, or a streaming `tf.data.Dataset` of batches
            for folders: pass `batch_size` to `ganomaly_keras.data.pipeline.training_input`), "train_sample" (up
            to 256 normal training images in memory, for int8 calibration),
            "validation" and "test" (`Split`s with labels, 1 = anomaly),
            "channels", and "summary" (JSON-able, for metadata and reports).
            Folders add "skipped": per in-memory split, the files left out with
            `on_error="skip"` (`{"path", "reason"}` each).
        """
        if self.source == "folder":
            return self._folder_splits()
        pooled, paired = self._classes()
        seed, val = self.seed, self.validation_fraction
        if paired is not None and self.protocol == "leave_one_class_out":
            # The paper's protocol on the dataset's own train and test splits.
            splits = paper_leave_one_class_out(
                paired[0], paired[1], self.abnormal_class, validation_fraction=val, seed=seed
            )
        else:
            images, classes = pooled if pooled is not None else (
                np.concatenate([paired[0][0], paired[1][0]]),
                np.concatenate([paired[0][1], paired[1][1]]),
            )
            if self.protocol == "one_class":
                splits = one_class(images, classes, self.normal_class, validation_fraction=val, seed=seed)
            elif self.protocol == "contaminated_leave_one_class_out":
                splits = contaminated_leave_one_class_out(
                    images, classes, self.abnormal_class, self.contamination,
                    validation_fraction=val, seed=seed,
                )
            else:
                splits = leave_one_class_out(
                    images, classes, self.abnormal_class, validation_fraction=val, seed=seed
                )
        train = splits["train"]
        normal_train = train.images[train.labels == 0]
        rng = np.random.default_rng(self.seed)
        sample = normal_train[np.sort(rng.permutation(len(normal_train))[:SAMPLE_IMAGES])]
        return {
            "train": train.images,
            "train_sample": sample,
            "validation": splits["validation"],
            "test": splits["test"],
            "channels": int(train.images.shape[-1]),
            "summary": self._summary(splits),
        }

    def _folder_splits(self):
        from ganomaly_keras.data.decoding import decode_files
        from ganomaly_keras.data.folders import folder_protocol
        from ganomaly_keras.data.masks import (
            check_ground_truth,
            evaluation_size,
            load_masks,
        )
        from ganomaly_keras.data.protocols import Split

        check_ground_truth(self.path)
        files = folder_protocol(
            self.path, validation_fraction=self.validation_fraction, seed=self.seed
        )
        channels = self.channels or image_channels(files["train"].paths[0])
        size = self.load_size
        sample_paths = files["train"].paths[:SAMPLE_IMAGES]
        sample = decode_files(sample_paths, size, channels, self.on_error).images
        mask_size = evaluation_size(files["test"].paths, size)
        skipped = {}

        def load(name):
            split = files[name]
            decoded = decode_files(split.paths, size, channels, self.on_error)
            skipped[name] = [item._asdict() for item in decoded.skipped]
            split = split.subset(decoded.kept)
            masks = load_masks(split.paths, split.masks, split.labels, mask_size)
            return Split(decoded.images, split.labels, masks, split.paths, split.defects)

        validation, test = load("validation"), load("test")
        splits = {"train": files["train"], "validation": validation, "test": test}
        summary = self._summary(splits)
        summary["mask_resolution"] = mask_size if test.masks is not None else None
        return {
            "skipped": skipped,
            "train": files["train"],
            "train_sample": sample,
            "validation": validation,
            "test": test,
            "channels": channels,
            "summary": summary,
        }

    def folder_split(self, name):
        """One split of a folder source as files, for streaming it (`evaluate`).

        Args:
            name: "validation" or "test".

        Returns:
            `FolderSplit(files, channels, masks, skipped)`: the split's `FileSplit`
            (unreadable files left out with `on_error="skip"`), the channels the
            model reads them in, their masks at the evaluation size (or None), and the
            `{"path", "reason"}` of each file left out.
        """
        from ganomaly_keras.data.decoding import find_unreadable, unreadable_error
        from ganomaly_keras.data.folders import folder_protocol
        from ganomaly_keras.data.masks import (
            check_ground_truth,
            evaluation_size,
            load_masks,
        )

        if self.source != "folder":
            raise ValueError(f"folder_split needs a folder source; this one is {self.source!r}.")
        check_ground_truth(self.path)
        files = folder_protocol(
            self.path, validation_fraction=self.validation_fraction, seed=self.seed
        )
        channels = self.channels or image_channels(files["train"].paths[0])
        split = files[name]
        skipped = find_unreadable(split.paths, self.load_size, channels)
        if skipped and self.on_error == "raise":
            raise unreadable_error(skipped)
        bad = {item.path for item in skipped}
        split = split.subset([i for i, p in enumerate(split.paths) if p not in bad])
        mask_size = evaluation_size(files["test"].paths, self.load_size)
        masks = load_masks(split.paths, split.masks, split.labels, mask_size)
        return FolderSplit(split, channels, masks, [item._asdict() for item in skipped])

    def _summary(self, splits):
        counts = {
            name: {
                "images": int(len(split.labels)),
                "anomalous": int(np.sum(split.labels)),
            }
            for name, split in splits.items()
        }
        return {
            "source": self.source,
            "path": self.path,
            "name": self.name,
            "protocol": self.protocol,
            "abnormal_class": None if self.normal_class is not None or self.source == "folder"
            else self.abnormal_class,
            "normal_class": self.normal_class,
            "contamination": self.contamination,
            "seed": self.seed,
            "splits": counts,
            # What the model takes: (height, width), tiled when larger than image_size.
            "working_size": list(self.load_size),
            "spec": self.to_dict(),
        }


class FolderSplit(NamedTuple):
    """A folder split as files: see `DataSpec.folder_split`."""

    files: object
    channels: int
    masks: Optional[np.ndarray]
    skipped: list
