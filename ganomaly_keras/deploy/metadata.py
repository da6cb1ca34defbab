"""The `metadata.json` of an export: one versioned schema, written and read here.

`export_model` writes an `ExportMetadata`; the runtimes, `export/verify_export.py` and
the edge runner (`ganomaly_keras.edge`) read it back with `read_metadata`, which checks
every field they rely on and refuses a schema version it does not know. This module
needs only the standard library and NumPy, so a device without TensorFlow reads it.

Schema version 1 (the only one so far):

    schema_version   1
    package, package_version, created, tensorflow_version, keras_version
    model            {"class": name, "config": the constructor's scalar options}
    input            name "images", dtype "uint8", range [0, 255], image_size,
                     channels, color, layout "NHWC", resize, preprocessing, tiling
    outputs          {output name: what it holds}
    score            {"name", "definition", "map_smoothing"}
    scaling          {"score_min", "score_max"}   (raw-score units)
    threshold        raw-score units; anomaly when anomaly_score > threshold
    training_data    a summary of the data the model was trained on
    validation       validation figures (never test figures)
    artefacts        {format: {"file", "bytes", "signature", "batch", ...}}
"""

import dataclasses
import json
import math
import os

SCHEMA_VERSION = 1
FILENAME = "metadata.json"
INPUT_NAME = "images"
OUTPUT_NAMES = ("anomaly_score", "normalized_score", "is_anomaly", "anomaly_map")
SERVING_SIGNATURE = "serving_default"
# The LiteRT variants and every format an export writes.
TFLITE_VARIANTS = ("float32", "float16", "dynamic", "int8")
EXPORT_FORMATS = ("keras", "saved_model") + tuple(f"tflite_{v}" for v in TFLITE_VARIANTS)
EDGE_SIGNATURE = "serve_batch1"


class MetadataError(ValueError):
    """A metadata.json that a reader of this schema cannot use, named with the fix."""


@dataclasses.dataclass
class ExportMetadata:
    """Everything a device needs to run and trust an exported model.

    Args:
        model_class: the detector's class name.
        model_config: its scalar constructor options.
        image_size: the size of the uint8 images every artefact takes: a side, or
            `[height, width]` for a rectangular working size.
        channels: 1 (grayscale) or 3 (RGB).
        score_name, score_definition, map_smoothing: the score the model computes.
        score_min, score_max: the validation scores' range (the 0..1 scaling).
        threshold: raw-score units; an image is anomalous above it.
        outputs: what each output holds, by name.
        tiling: None, or the tile size and stride the model scores with.
        training_data, validation: JSON-able summaries (validation, never test).
        artefacts: the exported files by format.
        package_version, created, tensorflow_version, keras_version: provenance.
        schema_version: the schema this was written in.
    """

    model_class: str
    model_config: dict
    image_size: int
    channels: int
    score_name: str
    score_definition: str
    map_smoothing: int
    score_min: float
    score_max: float
    threshold: float
    outputs: dict
    tiling: dict = None
    training_data: dict = dataclasses.field(default_factory=dict)
    validation: dict = dataclasses.field(default_factory=dict)
    artefacts: dict = dataclasses.field(default_factory=dict)
    package_version: str = ""
    created: str = ""
    tensorflow_version: str = ""
    keras_version: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def image_shape(self):
        """`(height, width)` of the images every artefact takes."""
        size = self.image_size
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))

    @property
    def color(self):
        """"grayscale" for one channel, else "rgb"."""
        return "grayscale" if self.channels == 1 else "rgb"

    def to_dict(self):
        """The JSON document `metadata.json` holds.

        Returns:
            dict in schema `schema_version`: package and library versions, the model's
            class and config, input, scaling, threshold and artefacts.
        """
        return {
            "schema_version": self.schema_version,
            "package": "ganomaly-keras",
            "package_version": self.package_version,
            "created": self.created,
            "tensorflow_version": self.tensorflow_version,
            "keras_version": self.keras_version,
            "model": {"class": self.model_class, "config": self.model_config},
            "input": {
                "name": INPUT_NAME,
                "dtype": "uint8",
                "range": [0, 255],
                "image_size": self.image_size,
                "height": self.image_shape[0],
                "width": self.image_shape[1],
                "tiling": self.tiling,
                "channels": self.channels,
                "color": self.color,
                "layout": "NHWC",
                "resize": "before the model, by ganomaly_keras.data.images.read_pixels: "
                "converted to the model's channels (ITU-R 601-2 luma for grayscale), "
                "resized to width x height with Pillow's bilinear filter "
                "(antialiased when shrinking)",
                "preprocessing": "inside the model: x / 127.5 - 1",
            },
            "outputs": self.outputs,
            "score": {
                "name": self.score_name,
                "definition": self.score_definition,
                "map_smoothing": self.map_smoothing,
            },
            "scaling": {"score_min": self.score_min, "score_max": self.score_max},
            "threshold": self.threshold,
            "training_data": self.training_data,
            "validation": self.validation,
            "artefacts": self.artefacts,
        }

    @classmethod
    def from_dict(cls, document, where=FILENAME):
        """Parse and check a metadata document.

        Args:
            document: the parsed JSON.
            where: the file's name, for error messages.

        Returns:
            an `ExportMetadata`.

        Raises:
            MetadataError: naming the first field that is missing or wrong, or an
                unknown schema version.
        """
        _check(document, where)
        inp, score, scaling = document["input"], document.get("score", {}), document["scaling"]
        return cls(
            model_class=document.get("model", {}).get("class", ""),
            model_config=document.get("model", {}).get("config", {}),
            image_size=inp["image_size"],
            channels=inp["channels"],
            score_name=score.get("name", ""),
            score_definition=score.get("definition", ""),
            map_smoothing=score.get("map_smoothing", 1),
            score_min=float(scaling["score_min"]),
            score_max=float(scaling["score_max"]),
            threshold=float(document["threshold"]),
            outputs=document.get("outputs", {}),
            tiling=inp.get("tiling"),
            training_data=document.get("training_data") or {},
            validation=document.get("validation") or {},
            artefacts=document["artefacts"],
            package_version=document.get("package_version", ""),
            created=document.get("created", ""),
            tensorflow_version=document.get("tensorflow_version", ""),
            keras_version=document.get("keras_version", ""),
            schema_version=document["schema_version"],
        )

    def artefact(self, filename):
        """The artefacts entry of an exported file.

        Args:
            filename: the file's name or path.

        Returns:
            its entry (file, bytes, signature, delegate), or {} when it is not listed.
        """
        name = os.path.basename(filename)
        for entry in self.artefacts.values():
            if entry.get("file") == name:
                return entry
        return {}

    def write(self, folder):
        """Write `folder/metadata.json`.

        Args:
            folder: the export folder.

        Returns:
            the file's path.
        """
        path = os.path.join(folder, FILENAME)
        with open(path, "w") as handle:
            json.dump(self.to_dict(), handle, indent=2)
        return path


def read_metadata(path):
    """The `ExportMetadata` of an export folder, or of a `metadata.json` file.

    Args:
        path: the folder or the file.

    Returns:
        an `ExportMetadata`.

    Raises:
        MetadataError: when the file is missing, not JSON, or fails the schema.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, FILENAME)
    try:
        with open(path) as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise MetadataError(
            f"no metadata.json at {path}; keep it beside the exported model files, or "
            "give its path."
        ) from None
    except json.JSONDecodeError as error:
        raise MetadataError(f"{path} is not valid JSON: {error}") from None
    return ExportMetadata.from_dict(document, path)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(document, where):
    def bad(field, value, wanted):
        raise MetadataError(
            f"{where}: {field} is {value!r}, but a reader needs {wanted}; re-export "
            "the model with ganomaly-keras, or restore the metadata.json written with it."
        )

    if not isinstance(document, dict):
        bad("the document", type(document).__name__, "a JSON object")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise MetadataError(
            f"{where} has schema_version {document.get('schema_version')!r}; this "
            f"version of ganomaly-keras reads version {SCHEMA_VERSION}. Use the "
            "ganomaly-keras version that wrote it, or re-export the model."
        )
    inp = document.get("input")
    if not isinstance(inp, dict):
        bad("input", inp, "an object with the input's name, dtype, size and channels")
    size = inp.get("image_size")
    sides = size if isinstance(size, list) and len(size) == 2 else [size]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 16 for v in sides):
        bad("input.image_size", size, "an integer >= 16, or [height, width] of such")
    if inp.get("tiling") is None and (len(sides) != 1 or size & (size - 1)):
        bad("input.image_size", size, "a power of two (the model is not tiled)")
    if inp.get("channels") not in (1, 3):
        bad("input.channels", inp.get("channels"), "1 or 3")
    if inp.get("dtype") != "uint8":
        bad("input.dtype", inp.get("dtype"), '"uint8"')
    if inp.get("layout", "NHWC") != "NHWC":
        bad("input.layout", inp.get("layout"), '"NHWC"')
    if not _is_number(document.get("threshold")):
        bad("threshold", document.get("threshold"), "a finite number")
    scaling = document.get("scaling")
    if not isinstance(scaling, dict) or not all(
        _is_number(scaling.get(k)) for k in ("score_min", "score_max")
    ):
        bad("scaling", scaling, "finite score_min and score_max")
    if not isinstance(document.get("artefacts"), dict):
        bad("artefacts", document.get("artefacts"), "an object of exported files")
